/**
 * A small pool of worker threads for deposit checks. A batch is split into one slice per worker
 * (batch verification stays efficient on slices of a few dozen coins and more); with zero threads
 * the checks run in process. Parsing a ristretto transcript costs about as much as verifying it,
 * so the workers get the wire JSON and do both.
 */
import { Worker } from 'node:worker_threads';
import { EcashError, getGroup, type KeyJson, type SuiteId } from '../../core/index.js';
import { type CheckedTranscript, checkDeposits, type DepositCheckRequest, KeyCache } from './deposit-check.js';
import type { VerifyTask } from './verify-worker.js';

/** Below this many transcripts per slice a batch is not split further. */
const MIN_SLICE = 32;

interface Pending {
  resolve: (r: CheckedTranscript[]) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
  /** Settles when the worker's module has loaded: a message posted before then can be lost. */
  ready: Promise<void>;
}

/** Running from TypeScript sources (tests, tsx), the worker loads through tsx; from dist/, directly. */
function spawn(suite: SuiteId): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const worker = new URL('./verify-worker.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`;
    return new Worker(boot, { eval: true, workerData: { suite } });
  }
  return new Worker(new URL('./verify-worker.js', here), { workerData: { suite } });
}

export class VerifyPool {
  private readonly workers: PoolWorker[];
  private readonly pending = new Map<number, Pending>();
  private readonly local: KeyCache;
  private nextTask = 1;
  private closed = false;

  constructor(
    private readonly suite: SuiteId,
    threads: number,
  ) {
    this.local = new KeyCache(getGroup(suite));
    this.workers = Array.from({ length: threads }, () => {
      const worker = spawn(suite);
      let loaded: () => void = () => undefined;
      const pw: PoolWorker = { worker, busy: 0, ready: new Promise((resolve) => (loaded = resolve)) };
      pw.worker.on('message', (m: { ready?: true; taskId: number; results?: CheckedTranscript[]; error?: string }) => {
        if (m.ready === true) return loaded();
        const p = this.pending.get(m.taskId);
        if (p === undefined) return;
        this.pending.delete(m.taskId);
        if (--pw.busy === 0) pw.worker.unref();
        if (m.results !== undefined) p.resolve(m.results);
        else p.reject(new EcashError('internal', `deposit verification failed: ${m.error ?? 'unknown error'}`));
      });
      pw.worker.on('error', (e) => this.failAll(e));
      // An idle worker must not keep the process alive; a busy one must (see run()).
      pw.worker.unref();
      return pw;
    });
  }

  get threads(): number {
    return this.workers.length;
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(new EcashError('internal', `a verification worker failed: ${e.message}`));
    this.pending.clear();
  }

  private async run(pw: PoolWorker, keys: KeyJson[], request: DepositCheckRequest): Promise<CheckedTranscript[]> {
    const taskId = this.nextTask++;
    if (pw.busy++ === 0) pw.worker.ref();
    await pw.ready;
    return new Promise((resolve, reject) => {
      this.pending.set(taskId, { resolve, reject });
      pw.worker.postMessage({ taskId, keys, request } satisfies VerifyTask);
    });
  }

  /** Parses the keys in every worker now, so the first deposit does not pay for it. */
  async warm(keys: KeyJson[]): Promise<void> {
    this.local.addJson(keys);
    await Promise.all(this.workers.map((pw) => this.run(pw, keys, { depositor: 'warm-up', scopes: [], now: 0, transcripts: [] })));
  }

  async check(keys: KeyJson[], request: DepositCheckRequest): Promise<CheckedTranscript[]> {
    if (this.closed) throw new EcashError('service-stopped', 'the bank service is stopping');
    const n = request.transcripts.length;
    if (this.workers.length === 0) {
      this.local.addJson(keys);
      return checkDeposits(getGroup(this.suite), this.local, request);
    }
    const idle = [...this.workers].sort((a, b) => a.busy - b.busy);
    const slices = Math.max(1, Math.min(idle.length, Math.floor(n / MIN_SLICE)));
    const size = Math.ceil(n / slices);
    const parts = await Promise.all(
      Array.from({ length: slices }, (_, i) =>
        this.run(idle[i]!, keys, { ...request, transcripts: request.transcripts.slice(i * size, (i + 1) * size) }),
      ),
    );
    return parts.flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('the pool closed'));
    await Promise.all(this.workers.map((pw) => pw.worker.terminate()));
  }
}
