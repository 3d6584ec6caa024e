/** The benchmark modules `npm run bench` runs, in order. Each component adds its own. */
import { bankBench } from './bank.js';
import { bridgeBench } from './bridge.js';
import { cardBench } from './card.js';
import { coreBench } from './core.js';
import type { BenchModule } from './harness.js';
import { posBench } from './pos.js';

export const modules: BenchModule[] = [coreBench, cardBench, bridgeBench, bankBench, posBench];
