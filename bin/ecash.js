#!/usr/bin/env node
// The `ecash` command: runs the compiled CLI (built by `npm install` through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/host/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('ecash: the compiled CLI is missing (dist/). Run `npm install` (or `npm run build`) in the project folder first.\n');
  process.exit(1);
}
await import(main.href);
