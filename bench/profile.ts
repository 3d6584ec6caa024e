/**
 * A CPU profile of one piece of work in this thread (V8's sampling profiler through
 * node:inspector, as `node --cpu-prof` records it), summed up as the functions with the most
 * self time and their shares: what the bench prints beside a figure that misses its target.
 */
import { Session } from 'node:inspector/promises';
import type { Figures } from './harness.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
}

/**
 * Where a function lives, short: its file under the repository or node_modules (no line: under
 * tsx the profiler sees the transformed code's lines, not the source's).
 */
function place(url: string): string {
  if (url === '') return '';
  return ` ${url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(core|bench|host|wire)\//, '$1/')}`;
}

/**
 * Runs `work` under the sampling profiler (100 µs interval) and returns the `top` functions by
 * self time, each as `share %: name file`, with the total sampled time.
 */
export async function profileTop(work: () => unknown, top = 6): Promise<Figures> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    work();
    const { profile } = (await session.post('Profiler.stop')) as { profile: { nodes: ProfileNode[]; startTime: number; endTime: number } };
    const self = new Map<string, number>();
    let total = 0;
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0;
      if (hits === 0) continue;
      const name = `${n.callFrame.functionName || '(anonymous)'}${place(n.callFrame.url)}`;
      self.set(name, (self.get(name) ?? 0) + hits);
      total += hits;
    }
    const ranked = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
    return {
      sampled_ms: Math.round((profile.endTime - profile.startTime) / 1000),
      top: ranked.map(([name, hits]) => `${((100 * hits) / total).toFixed(1)}%: ${name}`).join('; '),
    };
  } finally {
    await session.post('Profiler.disable').catch(() => undefined);
    session.disconnect();
  }
}
