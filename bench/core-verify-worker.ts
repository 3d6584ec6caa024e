/**
 * A worker thread for the core benchmark's multi-core deposit figure: it decodes its share of a
 * deposit batch once, then batch-verifies it each time the main thread says "go".
 */
import { parentPort, workerData } from 'node:worker_threads';
import { installGroupBackends } from '../core/backends/index.js';
import { batchVerifyTranscripts, decodeKey, decodeTranscript, getGroup, referenceGroup, type SuiteId } from '../core/index.js';

export interface VerifyWorkerData {
  suite: SuiteId;
  key: Uint8Array;
  transcripts: Uint8Array[];
  /** On the suite's reference arithmetic rather than the installed backend. */
  reference: boolean;
}

const data = workerData as VerifyWorkerData;
if (!data.reference) await installGroupBackends();
const group = data.reference ? referenceGroup(data.suite) : getGroup(data.suite);
const key = decodeKey(group, data.key);
const items = data.transcripts.map((t) => ({ key, transcript: decodeTranscript(group, t) }));
const port = parentPort!;
port.on('message', () => port.postMessage(batchVerifyTranscripts(group, items).length));
port.postMessage('ready');
