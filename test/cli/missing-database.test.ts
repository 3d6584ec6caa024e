/**
 * Typos never create files: every `ecash` command but an init refuses a database or journal that
 * is not there with `no-database`, naming the path and the command that makes one, and leaves no
 * file behind; a refused `bank init` leaves nothing behind either (docs/operations.md). Before the
 * fix `bank audit --db typo.db`, `account show`, `merchant add` and `pos journal --journal typo.db`
 * each created an empty database. Run as the built command, on SQLite (PostgreSQL:
 * test/bank/cli.serial.test.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const PASSPHRASE = 'a long enough bank passphrase';

function ecash(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'ecash.js');
  return new Promise((resolve) => {
    execFile(
      'node',
      [bin, ...args],
      { cwd, env: { ...process.env, ECASH_BANK_PASSPHRASE: PASSPHRASE, ECASH_BANK_URL: 'http://127.0.0.1:9', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      },
    );
  });
}

describe('commands that are not an init refuse a missing database', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-no-db-'));
    writeFileSync(join(dir, 'bank.keys'), '{}');
    writeFileSync(join(dir, 'opening.json'), '{}');
    writeFileSync(join(dir, 'shop.token'), 'ecash.0000000000000000.x\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Refused with no-database, naming typo.db and the command that makes one; no typo.db made. */
  function refusedNoDatabase(r: Run, initCommand: string): void {
    expect(r.code, r.stderr).toBe(1);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('no-database');
    expect(error.message).toContain('typo.db');
    expect(error.message).toContain(initCommand);
    expect(readdirSync(dir).filter((f) => f.startsWith('typo'))).toEqual([]);
  }

  const bankCommands: [string, string[]][] = [
    ['bank audit', ['bank', 'audit']],
    ['bank account show', ['bank', 'account', 'show', 'acct-1']],
    ['bank account credit', ['bank', 'account', 'credit', 'acct-1', '--amount', '100', '--currency', 'EUR']],
    ['bank merchant add', ['bank', 'merchant', 'add', 'shop-1']],
    ['bank merchant show', ['bank', 'merchant', 'show', 'shop-1']],
    ['bank credential revoke', ['bank', 'credential', 'revoke', '0123456789abcdef']],
    ['bank keys list', ['bank', 'keys', 'list']],
  ];
  it.each(bankCommands)('%s --db typo.db', async (_name, args) => {
    refusedNoDatabase(await ecash(['--json', ...args, '--db', 'typo.db'], dir), 'ecash bank init');
  });

  const journalCommands: [string, string[]][] = [
    ['pos journal', ['pos', 'journal']],
    ['pos settle', ['pos', 'settle', '--merchant', 'shop-1', '--token-file', 'shop.token']],
  ];
  it.each(journalCommands)('%s --journal typo.db', async (_name, args) => {
    refusedNoDatabase(await ecash(['--json', ...args, '--journal', 'typo.db'], dir), 'ecash pos pay');
  });

  it('pos journal without --journal refuses the default journal when there is none', async () => {
    const r = await ecash(['pos', 'journal'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[no-database]');
    expect(existsSync(join(dir, 'ecash-pos.db'))).toBe(false);
  });

  it('a refused bank init leaves neither the database nor the key file behind', async () => {
    // A key file that exists already: refused after the database was opened.
    const exists = await ecash(['--json', 'bank', 'init', '--db', 'new.db', '--keys', 'bank.keys'], dir);
    expect(exists.code).toBe(1);
    expect(JSON.parse(exists.stdout)).toMatchObject({ error: { code: 'keyfile-exists' } });
    // A passphrase too short: refused when the key file is sealed.
    const weak = await ecash(['--json', 'bank', 'init', '--db', 'new.db', '--keys', 'new.keys', '--token-file', 'op.token'], dir, {
      ECASH_BANK_PASSPHRASE: 'short',
    });
    expect(weak.code).toBe(1);
    expect(JSON.parse(weak.stdout)).toMatchObject({ error: { code: 'weak-passphrase' } });
    expect(readdirSync(dir).filter((f) => f.startsWith('new') || f.startsWith('op.'))).toEqual([]);
  });
});
