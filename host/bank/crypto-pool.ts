/**
 * A small pool of worker threads for the bank's arithmetic: deposit checks and withdrawal offers.
 * A deposit batch is split into one slice per worker (batch verification stays efficient on slices
 * of a few dozen coins and more). The workers get the wire JSON and do all of a transcript's
 * CPU work: rebuild its bytes, decode them once, verify; the main thread gets back the verified
 * bytes to book, and decodes nothing. An offer goes to the thread that keeps the
 * account's base table (chosen by I). With zero threads everything runs in process.
 */
import type { Worker } from 'node:worker_threads';
import { EcashError, getGroup, type KeyJson, type SuiteId } from '../../core/index.js';
import type { CryptoJob, CryptoTask, CryptoWorkerData } from './crypto-worker.js';
import { type CheckedTranscript, checkDeposits, type DepositCheckRequest } from './deposit-check.js';
import { type EncodedOffer, OfferMaker } from './offers.js';
import { KeyCache } from '../bank-client/index.js';
import { startWorker } from './threads.js';

/** Below this many transcripts per slice a batch is not split further. */
const MIN_SLICE = 32;

interface Pending {
  resolve: (r: unknown) => void;
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

/** The worker module beside this one: TypeScript when running from the sources, JavaScript from dist/. */
const spawn = (data: CryptoWorkerData): Worker =>
  startWorker(new URL(import.meta.url.endsWith('.ts') ? './crypto-worker.ts' : './crypto-worker.js', import.meta.url), data);

const threadFailed = (e: Error) => new EcashError('internal', `a worker thread of the bank failed (${e.message}); restart the bank`);

/** Work done in process when the pool has no threads. */
interface InProcess {
  keys: KeyCache;
  offers: OfferMaker;
}

export class CryptoPool {
  private readonly pending = new Map<number, Pending & { worker: PoolWorker }>();
  private nextTask = 1;
  private closed = false;

  private constructor(
    private readonly suite: SuiteId,
    private readonly workers: PoolWorker[],
    /** Zero threads: the parsed keys and the offers' base tables, in process. */
    private readonly local: InProcess | undefined,
  ) {}

  /** Starts `threads` workers (0: the work runs in process) over the bank's fixed public `keys`. */
  static async start(suite: SuiteId, threads: number, keys: KeyJson[]): Promise<CryptoPool> {
    if (threads === 0) {
      const group = getGroup(suite);
      const local = { keys: new KeyCache(group), offers: new OfferMaker(group) };
      local.keys.addJson(keys);
      return new CryptoPool(suite, [], local);
    }
    const workers: PoolWorker[] = [];
    const pool = new CryptoPool(suite, workers, undefined);
    for (let i = 0; i < threads; i++) workers.push(pool.spawnWorker({ suite, keys }));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await pool.close();
      throw threadFailed(e as Error);
    }
    return pool;
  }

  private spawnWorker(data: CryptoWorkerData): PoolWorker {
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
    pw.worker.on('message', (m: { ready?: true; taskId: number; result?: unknown; error?: string }) => {
      if (m.ready === true) return loaded();
      const p = this.pending.get(m.taskId);
      if (p === undefined) return;
      this.pending.delete(m.taskId);
      if (--pw.busy === 0) pw.worker.unref();
      if (m.error === undefined) p.resolve(m.result);
      else p.reject(new EcashError('internal', `a worker thread's task failed: ${m.error}`));
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

  private async run<T>(pw: PoolWorker, job: CryptoJob): Promise<T> {
    if (pw.failed !== undefined) throw threadFailed(pw.failed);
    const taskId = this.nextTask++;
    if (pw.busy++ === 0) pw.worker.ref();
    await pw.ready;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(taskId, { resolve: resolve as (r: unknown) => void, reject, worker: pw });
      pw.worker.postMessage({ taskId, ...job } satisfies CryptoTask);
    });
  }

  /** The withdrawal offer of the session's w (encoded) for the account whose (encoded) I is `I`. */
  async offer(I: Uint8Array, w: Uint8Array): Promise<EncodedOffer> {
    if (this.closed) throw new EcashError('service-stopped', 'the bank service is stopping');
    if (this.local !== undefined) return this.local.offers.make(I, w);
    // The same account to the same thread, which keeps its base table.
    return this.run(this.workers[I[I.length - 1]! % this.workers.length]!, { kind: 'offer', I, w });
  }

  async check(request: DepositCheckRequest): Promise<CheckedTranscript[]> {
    if (this.closed) throw new EcashError('service-stopped', 'the bank service is stopping');
    if (this.local !== undefined) return checkDeposits(getGroup(this.suite), this.local.keys, request);
    const n = request.transcripts.length;
    const idle = [...this.workers].sort((a, b) => a.busy - b.busy);
    const slices = Math.max(1, Math.min(idle.length, Math.floor(n / MIN_SLICE)));
    const size = Math.ceil(n / slices);
    const parts = await Promise.all(
      Array.from({ length: slices }, (_, i) =>
        this.run<CheckedTranscript[]>(idle[i]!, {
          kind: 'deposits',
          request: { ...request, transcripts: request.transcripts.slice(i * size, (i + 1) * size) },
        }),
      ),
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
