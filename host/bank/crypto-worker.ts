/**
 * A deposit-verification worker thread: parses and checks its share of a deposit batch
 * (deposit-check.ts) so that parsing and batch verification use every core. The bank's keys are
 * fixed while it runs; the thread parses them once, from its start data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { KeyJson, SuiteId } from '../../core/index.js';
import { getGroup } from '../../core/index.js';
import { checkDeposits, type DepositCheckRequest } from './deposit-check.js';
import { KeyCache } from './public-parameters.js';

export interface VerifyWorkerData {
  suite: SuiteId;
  keys: KeyJson[];
}

export interface VerifyTask {
  taskId: number;
  request: DepositCheckRequest;
}

const data = workerData as VerifyWorkerData;
const group = getGroup(data.suite);
const keys = new KeyCache(group);
keys.addJson(data.keys);
const port = parentPort!;

port.on('message', (task: VerifyTask) => {
  try {
    port.postMessage({ taskId: task.taskId, results: checkDeposits(group, keys, task.request) });
  } catch (e) {
    port.postMessage({ taskId: task.taskId, error: e instanceof Error ? e.message : String(e) });
  }
});
// Tell the pool the listener is in place: tasks posted earlier could be dropped.
port.postMessage({ ready: true });
