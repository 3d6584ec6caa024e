/**
 * A terminal's waits (`--card-wait`, `--pin-wait`) are positive seconds: anything else is refused
 * with its own code before the terminal touches its journal, its bank or a reader.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ecash-waits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a terminal's waits", () => {
  it.each([
    ['--card-wait', 'abc', 'bad-card-wait'],
    ['--card-wait', '0', 'bad-card-wait'],
    ['--pin-wait', '-1', 'bad-pin-wait'],
    ['--pin-wait', 'soon', 'bad-pin-wait'],
  ])('%s %s is refused (%s), and no journal is made', async (option, value, code) => {
    const journal = join(dir, `${code}-${value}.db`);
    const base = ['--json', 'pos', 'pay', '100', '--merchant', 'shop', '--reader', 'Sim 0', '--bank', 'http://127.0.0.1:9'];
    const r = await runCli([...base, '--journal', journal, option, value], { ECASH_BANK_TOKEN: 'a-merchant-credential' });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: { code, message: expect.stringContaining(`${option} is a positive number of seconds`) },
    });
    expect(existsSync(journal)).toBe(false);
  });
});
