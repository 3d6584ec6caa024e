/**
 * `ecash card create` takes the PIN and PUK from files or the environment, never from arguments
 * (every user of the machine sees a command line), and prints generated ones once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ecash-card-create-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ecash card create', () => {
  it('refuses a PIN or PUK given as an argument, without repeating it, and creates nothing', async () => {
    for (const args of [
      ['--pin', '4711'],
      ['--puk', '47114711'],
    ]) {
      const file = join(dir, `refused-${args[0]!.slice(2)}.card`);
      const r = await runCli(['--json', 'card', 'create', file, ...args]);
      expect(r.code).not.toBe(0);
      expect(JSON.parse(r.stdout).error.code).toBe('secret-in-argument');
      expect(r.stdout + r.stderr).not.toContain(args[1]);
      expect(r.stdout + r.stderr).toContain(`${args[0]}-file`);
      expect((await runCli(['card', 'info', file])).code).not.toBe(0);
    }
  });

  it('takes them from files, or generates them and shows them once', async () => {
    writeFileSync(join(dir, 'pin'), '2580\n');
    writeFileSync(join(dir, 'puk'), '25802580\n');
    const fromFiles = await runCli([
      '--json',
      'card',
      'create',
      join(dir, 'a.card'),
      '--pin-file',
      join(dir, 'pin'),
      '--puk-file',
      join(dir, 'puk'),
    ]);
    expect(fromFiles.code, fromFiles.stderr).toBe(0);
    expect(JSON.parse(fromFiles.stdout)).not.toHaveProperty('pin');
    expect(fromFiles.stdout + fromFiles.stderr).not.toContain('2580');
    const generated = await runCli(['--json', 'card', 'create', join(dir, 'b.card')]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout)).toMatchObject({ pin: expect.stringMatching(/^\d{6}$/), puk: expect.stringMatching(/^\d{10}$/) });
  });
});
