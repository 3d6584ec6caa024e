import { defineConfig } from 'vitest/config';

// Two projects: ordinary suites run in parallel; suites that share machine-wide resources
// (pcscd and its two vpcd reader slots, the PostgreSQL test database, fixed ports) are named
// `*.serial.test.ts` and run one file at a time.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.serial.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'serial', include: ['test/**/*.serial.test.ts'], fileParallelism: false },
      },
    ],
  },
});
