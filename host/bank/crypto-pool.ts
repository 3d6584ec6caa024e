/**
 * A small pool of worker threads for deposit checks. A batch is split into one slice per worker
 * (batch verification stays efficient on slices of a few dozen coins and more); with zero threads
 * the checks run in process. Parsing a ristretto transcript costs about as much as verifying it,
 * so the workers get the wire JSON and do both.
 */
import { Worker } from 'node:worker_threads';
import { EcashError, getGroup, type KeyJson, type SuiteId } from '../../core/index.js';
import { type CheckedTranscript, checkDeposits, type DepositCheckRequest } from './deposit-check.js';
import { KeyCache } from './public-parameters.js';
import type { VerifyTask, VerifyWorkerData } from './verify-worker.js';

/** Below this many transcripts per slice a batch is not split further. */
const MIN_SLICE = 32;

interface Pending {
  resolve: (r: CheckedTranscript[]) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
  /** Settles when the worker's module has loaded (a message posted before then can be lost). */
  ready: Promise<void>;
  /** Why the thread stopped, once it has: its tasks fail instead of waiting forever. */
  failed: Error | undefined;
}

/** Running from TypeScript sources (tests, tsx), the worker loads through tsx; from dist/, directly. */
function spawn(data: VerifyWorkerData): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const worker = new URL('./verify-worker.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`;
    return new Worker(boot, { eval: true, workerData: data });
  }
  return new Worker(new URL('./verify-worker.js', here), { workerData: data });
}

const threadFailed = (e: Error) => new EcashError('internal', `a deposit verification thread failed (${e.message}); restart the bank`);

export class VerifyPool {
  private readonly pending = new Map<number, Pending & { worker: PoolWorker }>();
  private nextTask = 1;
  private closed = false;

  private constructor(
    private readonly suite: SuiteId,
    private readonly workers: PoolWorker[],
    /** The parsed keys, for checks in process (zero threads). */
    private readonly local: KeyCache | undefined,
  ) {}

  /** Starts `threads` workers (0: checks run in process) over the bank's fixed `keys`. */
  static async start(suite: SuiteId, threads: number, keys: KeyJson[]): Promise<VerifyPool> {
    if (threads === 0) {
      const local = new KeyCache(getGroup(suite));
      local.addJson(keys);
      return new VerifyPool(suite, [], local);
    }
    const workers: PoolWorker[] = [];
    const pool = new VerifyPool(suite, workers, undefined);
    for (let i = 0; i < threads; i++) workers.push(pool.spawnWorker({ suite, keys }));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await pool.close();
      throw threadFailed(e as Error);
    }
    return pool;
  }

  private spawnWorker(data: VerifyWorkerData): PoolWorker {
    let loaded!: () => void;
    let broke!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      loaded = resolve;
      broke = reject;
    });
    ready.catch(() => undefined); // observed through start() and run()
    const pw: PoolWorker = { worker: spawn(data), busy: 0, ready, failed: undefined };
    const fail = (e: Error) => {
      if (pw.failed !== undefined || this.closed) return;
      pw.failed = e;
      broke(e);
      for (const [id, p] of this.pending) {
        if (p.worker !== pw) continue;
        this.pending.delete(id);
        p.reject(threadFailed(e));
      }
    };
    pw.worker.on('message', (m: { ready?: true; taskId: number; results?: CheckedTranscript[]; error?: string }) => {
      if (m.ready === true) return loaded();
      const p = this.pending.get(m.taskId);
      if (p === undefined) return;
      this.pending.delete(m.taskId);
      if (--pw.busy === 0) pw.worker.unref();
      if (m.results !== undefined) p.resolve(m.results);
      else p.reject(new EcashError('internal', `deposit verification failed: ${m.error ?? 'unknown error'}`));
    });
    pw.worker.on('error', fail);
    pw.worker.on('exit', (code) => fail(new Error(`the thread exited with code ${code}`)));
    // An idle worker must not keep the process alive; one loading or busy must (see run()).
    ready.then(
      () => pw.busy === 0 && pw.worker.unref(),
      () => undefined,
    );
    return pw;
  }

  get threads(): number {
    return this.workers.length;
  }

  private async run(pw: PoolWorker, request: DepositCheckRequest): Promise<CheckedTranscript[]> {
    if (pw.failed !== undefined) throw threadFailed(pw.failed);
    const taskId = this.nextTask++;
    if (pw.busy++ === 0) pw.worker.ref();
    await pw.ready;
    return new Promise((resolve, reject) => {
      this.pending.set(taskId, { resolve, reject, worker: pw });
      pw.worker.postMessage({ taskId, request } satisfies VerifyTask);
    });
  }

  async check(request: DepositCheckRequest): Promise<CheckedTranscript[]> {
    if (this.closed) throw new EcashError('service-stopped', 'the bank service is stopping');
    if (this.local !== undefined) return checkDeposits(getGroup(this.suite), this.local, request);
    const n = request.transcripts.length;
    const idle = [...this.workers].sort((a, b) => a.busy - b.busy);
    const slices = Math.max(1, Math.min(idle.length, Math.floor(n / MIN_SLICE)));
    const size = Math.ceil(n / slices);
    const parts = await Promise.all(
      Array.from({ length: slices }, (_, i) => this.run(idle[i]!, { ...request, transcripts: request.transcripts.slice(i * size, (i + 1) * size) })),
    );
    return parts.flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new EcashError('service-stopped', 'the bank service is stopping'));
    this.pending.clear();
    await Promise.all(this.workers.map((pw) => pw.worker.terminate()));
  }
}
