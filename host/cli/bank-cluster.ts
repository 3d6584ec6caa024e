/**
 * `ecash bank serve --processes N`: N bank processes behind one address, with Node's cluster
 * module (no other software). The primary forks the workers, which run `bank serve` as one process
 * would; the listening socket is the primary's, which hands connections to the workers in turn.
 * What the processes must agree on lives in PostgreSQL (rate-limit counters, revoked credentials:
 * host/bank/storage/postgres-shared.ts), so N > 1 needs a PostgreSQL database.
 *
 * The primary prints the address once every worker listens, replaces a worker that dies, and on
 * SIGINT or SIGTERM tells each worker to stop (a message, not a signal: a worker that also got the
 * terminal's SIGINT must not be killed by a second one) and waits for them. A worker that has not
 * listened yet, which may not have its message listener either, gets SIGTERM: it has nothing in
 * flight. If one fails before listening, the others are stopped and the command fails with
 * `bank-process-failed`.
 */
import cluster, { type Worker } from 'node:cluster';
import { EcashError } from '../../core/index.js';
import { info } from './output.js';
import { listenForStop } from './signals.js';

const STOP_MESSAGE = 'ecash-bank-stop';

/** Whether this process is a worker of `serve --processes`. */
export const isClusterWorker = (): boolean => cluster.isWorker;

/** In a worker: resolves when the primary says stop (or this process gets SIGINT or SIGTERM). */
export function workerStopped(): Promise<string> {
  const stop = listenForStop();
  return Promise.race([
    stop.received,
    new Promise<string>((resolve) => {
      process.on('message', (m) => {
        if (m === STOP_MESSAGE) {
          stop.dispose();
          resolve('stop from the primary');
        }
      });
    }),
  ]);
}

/**
 * In the primary: forks `processes` workers (each runs this command again) and returns their
 * address once all listen; `run` is called then and the workers are stopped when it returns.
 */
export async function serveCluster(processes: number, run: (address: string) => Promise<void>): Promise<void> {
  const stop = listenForStop();
  let stopping = false;
  const workers = new Set<Worker>();
  /** Workers that listen, and so wait for the stop message; one still starting may miss it. */
  const listening = new Set<Worker>();
  let failed: (e: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => {
    failed = reject;
  });
  const fork = (): Promise<string> => {
    const w = cluster.fork();
    workers.add(w);
    return new Promise<string>((resolve) => {
      w.once('listening', (a) => {
        listening.add(w);
        resolve(`http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`);
      });
      w.once('exit', (code, signal) => {
        workers.delete(w);
        listening.delete(w);
        if (stopping) return;
        const why = `a bank process exited (${signal ?? `code ${code}`})`;
        if (!ready) {
          failed(new EcashError('bank-process-failed', `${why} before it listened; see its error above`));
          return;
        }
        info(`${why}; starting another`);
        void fork();
      });
    });
  };
  let ready = false;
  const stopAll = async () => {
    stopping = true;
    const exits = [...workers].map((w) => new Promise((resolve) => w.once('exit', resolve)));
    for (const w of workers) {
      if (listening.has(w) && w.isConnected()) w.send(STOP_MESSAGE);
      else w.process.kill('SIGTERM');
    }
    await Promise.all(exits);
  };
  try {
    const addresses = await Promise.race([Promise.all(Array.from({ length: processes }, fork)), failure]);
    ready = true;
    await run(addresses[0]!);
    info(`${await Promise.race([stop.received, failure])}: stopping the bank processes`);
  } finally {
    stop.dispose();
    await stopAll();
  }
}
