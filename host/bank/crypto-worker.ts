/**
 * A worker thread of the bank's crypto pool: parses and checks its share of a deposit batch
 * (deposit-check.ts), and makes withdrawal offers (offers.ts), so that this arithmetic uses every
 * core and leaves the main thread to HTTP and storage. The bank's public keys are fixed while it
 * runs; the thread parses them once, from its start data. It holds no secret key: an offer's w
 * comes with its task, derived in the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { installGroupBackends } from '../../core/backends/index.js';
import type { KeyJson, SuiteId } from '../../core/index.js';
import { getGroup } from '../../core/index.js';
import { checkDeposits, type DepositCheckRequest } from './deposit-check.js';
import { OfferMaker } from './offers.js';
import { KeyCache } from '../bank-client/index.js';

export interface CryptoWorkerData {
  suite: SuiteId;
  keys: KeyJson[];
}

/** What a thread is asked to do. */
export type CryptoJob = { kind: 'deposits'; request: DepositCheckRequest } | { kind: 'offer'; I: Uint8Array; w: Uint8Array };

export type CryptoTask = { taskId: number } & CryptoJob;

const data = workerData as CryptoWorkerData;
await installGroupBackends(); // each thread has its own modules: the main thread's install is not seen here
const group = getGroup(data.suite);
const keys = new KeyCache(group);
keys.addJson(data.keys);
const offers = new OfferMaker(group);
const port = parentPort!;

port.on('message', (task: CryptoTask) => {
  try {
    const result = task.kind === 'deposits' ? checkDeposits(group, keys, task.request) : offers.make(task.I, task.w);
    port.postMessage({ taskId: task.taskId, result });
  } catch (e) {
    port.postMessage({ taskId: task.taskId, error: e instanceof Error ? e.message : String(e) });
  }
});
// Tell the pool the listener is in place: tasks posted earlier could be dropped.
port.postMessage({ ready: true });
