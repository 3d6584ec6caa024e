/**
 * A deposit-verification worker thread: parses and checks its share of a deposit batch
 * (deposit-check.ts) so that parsing and batch verification use every core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getGroup, type KeyJson, type SuiteId } from '../../core/index.js';
import { checkDeposits, type DepositCheckRequest, KeyCache } from './deposit-check.js';

export interface VerifyTask {
  taskId: number;
  keys: KeyJson[];
  request: DepositCheckRequest;
}

const group = getGroup((workerData as { suite: SuiteId }).suite);
const keys = new KeyCache(group);
const port = parentPort!;

port.on('message', (task: VerifyTask) => {
  try {
    keys.addJson(task.keys);
    port.postMessage({ taskId: task.taskId, results: checkDeposits(group, keys, task.request) });
  } catch (e) {
    port.postMessage({ taskId: task.taskId, error: e instanceof Error ? e.message : String(e) });
  }
});
// Tell the pool the listener is in place: tasks posted earlier could be dropped.
port.postMessage({ ready: true });
