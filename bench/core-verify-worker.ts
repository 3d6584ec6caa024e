/**
 * A worker thread for the core benchmark's multi-core deposit figure: it decodes its share of a
 * deposit batch once, then batch-verifies it each time the main thread says "go".
 */
import { parentPort, workerData } from 'node:worker_threads';
import { batchVerifyTranscripts, decodeKey, decodeTranscript, getGroup, type SuiteId } from '../core/index.js';

export interface VerifyWorkerData {
  suite: SuiteId;
  key: Uint8Array;
  transcripts: Uint8Array[];
}

const data = workerData as VerifyWorkerData;
const group = getGroup(data.suite);
const key = decodeKey(group, data.key);
const items = data.transcripts.map((t) => ({ key, transcript: decodeTranscript(group, t) }));
const port = parentPort!;
port.on('message', () => port.postMessage(batchVerifyTranscripts(group, items).length));
port.postMessage('ready');
