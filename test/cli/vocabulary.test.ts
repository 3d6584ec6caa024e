/**
 * One vocabulary across the `ecash` commands, as their help shows it: a bank credential file is
 * `--token-file` everywhere (the old names work, hidden), every subcommand's help lists `--json`,
 * `pos settle` lists only what it uses, `bridge serve` no `--bridge`; `--version`; a bad `--limit`
 * says it wants a number. Run as the built command.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function ecash(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [join(ROOT, 'bin', 'ecash.js'), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const optionsOf = (help: string): string[] => [...help.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);

const LEAVES = [
  'bank init',
  'bank serve',
  'bank audit',
  'bank account open',
  'bank account show',
  'bank account credit',
  'bank merchant add',
  'bank merchant show',
  'bank credential revoke',
  'bank keys list',
  'bank keys rotate',
  'bank double-spends',
  'verify-proof',
  'readers',
  'apdu',
  'bridge serve',
  'card create',
  'card info',
  'card serve',
  'card profiles',
  'account open',
  'account export-opening',
  'load',
  'pos pay',
  'pos settle',
  'pos journal',
  'pos serve',
  'demo',
];

describe('the ecash command speaks one vocabulary', () => {
  it.each(LEAVES)('ecash %s --help: --json listed, a credential file is --token-file', async (leaf) => {
    const r = await ecash([...leaf.split(' '), '--help']);
    expect(r.code, r.stderr).toBe(0);
    const options = optionsOf(r.stdout);
    expect(options).toContain('--json');
    expect(options.filter((o) => /credential|operator-token|^--token/.test(o) && o !== '--token-file')).toEqual([]);
  });

  it('pos settle lists only the options it uses; bridge serve has no --bridge', async () => {
    const settle = optionsOf((await ecash(['pos', 'settle', '--help'])).stdout);
    expect(settle.sort()).toEqual(
      ['--bank', '--help', '--journal', '--json', '--merchant', '--terminal', '--token-file', '--version'].sort(),
    );
    const bridge = optionsOf((await ecash(['bridge', 'serve', '--help'])).stdout);
    expect(bridge).not.toContain('--bridge');
    expect(bridge).toContain('--bridge-token-file');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await ecash(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('--limit abc says it wants a number', async () => {
    const r = await ecash(['--json', 'pos', 'journal', '--limit', 'abc']);
    expect(r.code).toBe(1);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('bad-option');
    expect(error.message).toMatch(/--limit takes a whole number/);
    expect(error.message).not.toMatch(/minor units/);
  });
});
