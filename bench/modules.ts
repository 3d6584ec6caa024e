/** The benchmark modules `npm run bench` runs, in order. Each component adds its own. */
import type { BenchModule } from './harness.js';

export const modules: BenchModule[] = [];
