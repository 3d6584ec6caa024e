/**
 * Starting a worker thread on one of our modules: from the TypeScript sources (tests, benchmarks,
 * `tsx`) the thread first registers tsx's loader, since a worker does not inherit it; from dist/
 * it loads the built module directly.
 */
import { Worker } from 'node:worker_threads';

export function startWorker(module: URL, workerData: unknown): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}
