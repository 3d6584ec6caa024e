/**
 * The operator's `ecash bank …` commands and `ecash verify-proof`, run as the built command
 * (`node bin/ecash.js`, built by `npm test`'s pretest) on an SQLite file, and `init`/`audit` once on
 * PostgreSQL. Checks exit codes, `--json` documents, files written mode 600, and that neither the
 * passphrase nor a credential other than the one being issued shows up in the output.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getGroup, makeDoubleSpendProof, proofToJson, systemRandom, toHex } from '../../core/index.js';
import { bankKey, openAccount, paymentContext, spend, withdraw } from '../core/fixtures.js';
import { endStartedProcesses, exitOf, jsonUrl, startCli, waitForOutput } from '../helpers/cli.js';
import { adapters, testDb, type TestDb } from './helpers.js';
import { openingBody } from './http-fixture.js';

const G = getGroup('ristretto255-sha512');
const PASSPHRASE = 'a long enough bank passphrase';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ecash(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/ecash.js', ...args], { env: { ...process.env, ECASH_BANK_PASSPHRASE: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const jsonOf = (r: Run) => JSON.parse(r.stdout) as Record<string, unknown>;

describe('ecash bank (the built command)', () => {
  let dir: string;
  let db: string;
  let keys: string;
  let pass: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-bank-cli-'));
    db = join(dir, 'bank.db');
    keys = join(dir, 'bank.keys');
    pass = join(dir, 'passphrase');
    writeFileSync(pass, PASSPHRASE + '\n', { mode: 0o600 });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(endStartedProcesses); // a server a failed test left running

  it('init creates the key file, the database and an operator credential shown once', async () => {
    const missing = await ecash(['--json', 'bank', 'init', '--db', db, '--keys', keys]);
    expect(missing.code).toBe(1);
    expect(jsonOf(missing)).toMatchObject({ error: { code: 'passphrase-missing' } });
    expect(existsSync(keys)).toBe(false);

    const token = join(dir, 'operator.token');
    const r = await ecash([
      '--json',
      'bank',
      'init',
      '--db',
      db,
      '--keys',
      keys,
      '--passphrase-file',
      pass,
      '--denominations',
      'EUR:100,500;USD:200',
      '--token-file',
      token,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOf(r) as { suite: string; keyIds: string[]; operatorCredential: string };
    expect(out.suite).toBe('ristretto255-sha512');
    expect(out.keyIds).toHaveLength(3);
    expect(out.operatorCredential).toMatch(/^ecash\.[0-9a-f]{16}\./);
    expect(readFileSync(token, 'utf8').trim()).toBe(out.operatorCredential);
    expect(statSync(token).mode & 0o777).toBe(0o600);
    expect(statSync(keys).mode & 0o777).toBe(0o600);
    expect(r.stdout + r.stderr).not.toContain(PASSPHRASE);

    // A second init on the same database is refused before a new key file is written.
    const again = await ecash(['--json', 'bank', 'init', '--db', db, '--keys', join(dir, 'other.keys')], {
      ECASH_BANK_PASSPHRASE: PASSPHRASE,
    });
    expect(again.code).toBe(1);
    expect(jsonOf(again)).toMatchObject({ error: { code: 'bank-exists' } });
    expect(existsSync(join(dir, 'other.keys'))).toBe(false);
    const wrongPass = join(dir, 'wrong');
    writeFileSync(wrongPass, 'not the bank passphrase');
    const locked = await ecash([
      '--json',
      'bank',
      'keys',
      'rotate',
      '--db',
      db,
      '--keys',
      keys,
      '--passphrase-file',
      wrongPass,
      '--value',
      '100',
      '--currency',
      'EUR',
    ]);
    expect(locked.code).toBe(1);
    expect(jsonOf(locked)).toMatchObject({ error: { code: 'keyfile-locked' } });
  });

  it("opens an account from a card's opening, credits it and shows it; adds and shows a merchant", async () => {
    const acct = openAccount(G, 'alice', systemRandom);
    const opening = join(dir, 'alice.opening.json');
    writeFileSync(opening, JSON.stringify(openingBody(G, acct)));
    const credFile = join(dir, 'alice.token');
    const open = ['--json', 'bank', 'account', 'open', '--db', db, '--keys', keys, '--opening', opening];
    const opened = await ecash([...open, '--credential-file', credFile] /* the old name of --token-file, kept as a hidden alias */, {
      ECASH_BANK_PASSPHRASE: PASSPHRASE,
    });
    expect(opened.code, opened.stderr).toBe(0);
    const o = jsonOf(opened) as { accountId: string; credential: string; z: unknown[] };
    expect(o.z).toHaveLength(3);
    expect(readFileSync(credFile, 'utf8').trim()).toBe(o.credential);
    const dup = await ecash([...open, '--passphrase-file', pass]);
    expect(jsonOf(dup)).toMatchObject({ error: { code: 'account-exists' } });

    const credited = await ecash([
      '--json',
      'bank',
      'account',
      'credit',
      o.accountId,
      '--db',
      db,
      '--amount',
      '1500',
      '--currency',
      'EUR',
      '--reference',
      'counter 3',
    ]);
    expect(credited.code, credited.stderr).toBe(0);
    const shown = await ecash(['--json', 'bank', 'account', 'show', o.accountId, '--db', db]);
    expect(jsonOf(shown)).toMatchObject({ accountId: o.accountId, holder: 'alice', balances: [{ currency: 'EUR', balance: 1500 }] });
    const human = await ecash(['bank', 'account', 'show', o.accountId, '--db', db]);
    expect(human.stdout).toContain('15.00 EUR');
    const nobody = await ecash(['--json', 'bank', 'account', 'show', 'nobody', '--db', db]);
    expect(nobody.code).toBe(1);
    expect(jsonOf(nobody)).toMatchObject({ error: { code: 'account-not-found' } });
    const badAmount = await ecash(['--json', 'bank', 'account', 'credit', o.accountId, '--db', db, '--amount', '-5', '--currency', 'EUR']);
    expect(jsonOf(badAmount)).toMatchObject({ error: { code: 'bad-amount' } });

    const mtoken = join(dir, 'shop.token');
    const added = await ecash([
      '--json',
      'bank',
      'merchant',
      'add',
      'shop-1',
      '--db',
      db,
      '--fee',
      '2',
      '--scope',
      'transit',
      '--scope',
      'canteen',
      '--token-file',
      mtoken,
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(readFileSync(mtoken, 'utf8').trim()).toBe((jsonOf(added) as { credential: string }).credential);
    const m = await ecash(['--json', 'bank', 'merchant', 'show', 'shop-1', '--db', db]);
    expect(jsonOf(m)).toMatchObject({ merchantId: 'shop-1', feePerCoin: 2, scopes: ['transit', 'canteen'], balances: [] });
    const dupM = await ecash(['--json', 'bank', 'merchant', 'add', 'shop-1', '--db', db]);
    expect(jsonOf(dupM)).toMatchObject({ error: { code: 'merchant-exists' } });
    // An existing token file is refused before the merchant (and its credential) is made.
    const taken = await ecash(['--json', 'bank', 'merchant', 'add', 'shop-2', '--db', db, '--token-file', mtoken]);
    expect(jsonOf(taken)).toMatchObject({ error: { code: 'file-exists' } });
    expect(jsonOf(await ecash(['--json', 'bank', 'merchant', 'show', 'shop-2', '--db', db]))).toMatchObject({
      error: { code: 'merchant-not-found' },
    });

    // Revoking the merchant's credential, by its id (the token itself is refused: it is a secret).
    const token = readFileSync(mtoken, 'utf8').trim();
    const id = token.split('.')[1]!;
    const revoked = await ecash(['--json', 'bank', 'credential', 'revoke', id, '--db', db]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(jsonOf(revoked)).toMatchObject({ credentialId: id, kind: 'merchant', partyId: 'shop-1', revokedAt: expect.any(Number) });
    const withToken = await ecash(['--json', 'bank', 'credential', 'revoke', token, '--db', db]);
    expect(jsonOf(withToken)).toMatchObject({ error: { code: 'bad-credential-id' } });
    expect(withToken.stdout + withToken.stderr).not.toContain(token.split('.')[2]!);
    expect(jsonOf(await ecash(['--json', 'bank', 'credential', 'revoke', '0123456789abcdef', '--db', db]))).toMatchObject({
      error: { code: 'credential-not-found' },
    });
  });

  it('rotates keys into the key file and the database, with their windows', async () => {
    const from = '2030-01-01T00:00:00Z';
    const r = await ecash([
      '--json',
      'bank',
      'keys',
      'rotate',
      '--db',
      db,
      '--keys',
      keys,
      '--passphrase-file',
      pass,
      '--value',
      '100,500',
      '--currency',
      'EUR',
      '--from',
      from,
      '--withdraw-days',
      '30',
      '--deposit-days',
      '60',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const added = (
      jsonOf(r) as { added: { keyId: string; withdrawFrom: number; withdrawUntil: number; depositUntil: number; state: string }[] }
    ).added;
    expect(added).toHaveLength(2);
    expect(added[0]).toMatchObject({
      withdrawFrom: Date.parse(from),
      withdrawUntil: Date.parse(from) + 30 * 86_400_000,
      depositUntil: Date.parse(from) + 90 * 86_400_000,
      state: 'future',
    });
    const fromDb = (jsonOf(await ecash(['--json', 'bank', 'keys', 'list', '--db', db])) as { keys: { keyId: string; state: string }[] })
      .keys;
    const fromFile = (jsonOf(await ecash(['--json', 'bank', 'keys', 'list', '--keys', keys])) as { keys: { keyId: string }[] }).keys;
    expect(fromDb.map((k) => k.keyId)).toEqual(fromFile.map((k) => k.keyId));
    expect(fromDb.map((k) => k.state)).toEqual(['withdrawable', 'withdrawable', 'withdrawable', 'future', 'future']);
  });

  it('audits: exit 0 when the books balance, 1 with the problems listed when a row was edited', async () => {
    const ok = await ecash(['--json', 'bank', 'audit', '--db', db]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(jsonOf(ok)).toMatchObject({ ok: true, problems: [] });
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(db);
    raw.prepare("UPDATE ledger_balances SET balance = balance + 7 WHERE account = 'cash'").run();
    raw.close();
    const bad = await ecash(['--json', 'bank', 'audit', '--db', db]);
    expect(bad.code).toBe(1);
    expect((jsonOf(bad) as { problems: string[] }).problems).toEqual([
      'balance of cash in EUR is -14.93 EUR but its postings sum to -15.00 EUR',
      'all EUR balances sum to 0.07 EUR, not 0.00 EUR',
    ]);
    const human = await ecash(['bank', 'audit', '--db', db]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('audit FAILED: 2 problem(s)');
    // A mistyped --db is not quietly made into a new bank, by any command.
    const none = await ecash(['--json', 'bank', 'audit', '--db', join(dir, 'empty.db')]);
    expect(jsonOf(none)).toMatchObject({ error: { code: 'no-database' } });
    const serveNone = await ecash(['--json', 'bank', 'serve', '--db', join(dir, 'empty.db'), '--keys', keys, '--port', '0'], {
      ECASH_BANK_PASSPHRASE: PASSPHRASE,
    });
    expect(jsonOf(serveNone)).toMatchObject({ error: { code: 'no-database' } });
    const before = readFileSync(keys, 'utf8');
    const rotateNone = await ecash(
      ['--json', 'bank', 'keys', 'rotate', '--db', join(dir, 'empty.db'), '--keys', keys, '--value', '100', '--currency', 'EUR'],
      { ECASH_BANK_PASSPHRASE: PASSPHRASE },
    );
    expect(jsonOf(rotateNone)).toMatchObject({ error: { code: 'no-database' } });
    expect(readFileSync(keys, 'utf8')).toBe(before);
    expect(existsSync(join(dir, 'empty.db'))).toBe(false);
  });

  it('serves the HTTP API until SIGTERM', async () => {
    const server = startCli(['--json', 'bank', 'serve', '--db', db, '--keys', keys, '--port', '0', '--worker-threads', '0'], {
      ECASH_BANK_PASSPHRASE: PASSPHRASE,
    });
    const url = await waitForOutput(server, jsonUrl, 'its URL');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${url}/v1/health`)).json()) as { status: string; storage: string };
    expect(health).toMatchObject({ status: 'ok', storage: 'sqlite' });
    server.child.kill('SIGTERM');
    expect(await exitOf(server), server.stderr()).toBe(0);
  });

  it('stops cleanly on a SIGTERM sent the moment it prints its URL (it listens before it says it is ready)', async () => {
    const server = startCli(['--json', 'bank', 'serve', '--db', db, '--keys', keys, '--port', '0', '--worker-threads', '0'], {
      ECASH_BANK_PASSPHRASE: PASSPHRASE,
    });
    await waitForOutput(server, jsonUrl, 'its URL');
    server.child.kill('SIGTERM');
    expect(await exitOf(server), server.stderr()).toBe(0);
  });

  it('verify-proof checks a double-spend proof with public data only', async () => {
    const secret = bankKey(G, systemRandom, 500);
    const acct = openAccount(G, 'mallory', systemRandom);
    const coin = withdraw(G, secret, acct, systemRandom);
    const t1 = spend(G, acct, coin, paymentContext(systemRandom, 'shop-1'));
    const t2 = spend(G, acct, coin, paymentContext(systemRandom, 'shop-2'));
    const proof = proofToJson(G, makeDoubleSpendProof(G, secret.key, t1, t2));
    const file = join(dir, 'proof.json');
    // As GET /v1/double-spends lists it: a record with the proof inside.
    writeFileSync(file, JSON.stringify({ doubleSpendId: 1, accountId: 'x', proof }));
    const r = await ecash(['--json', 'verify-proof', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf(r)).toEqual({
      valid: true,
      suite: G.suite,
      I: toHex(G.encode(acct.I)),
      key: { keyId: toHex(secret.key.keyId), value: 500, currency: 'EUR', scope: '' },
      merchants: ['shop-1', 'shop-2'],
    });
    expect(r.stdout).not.toContain(proof.u1);

    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ ...proof, I: toHex(G.encode(G.g1)) }));
    const bad = await ecash(['--json', 'verify-proof', forged]);
    expect(bad.code).toBe(1);
    expect(jsonOf(bad)).toMatchObject({ error: { code: 'bad-proof' } });
    const replay = join(dir, 'replay.json');
    writeFileSync(replay, JSON.stringify({ ...proof, transcripts: [proof.transcripts[0], proof.transcripts[0]] }));
    expect(jsonOf(await ecash(['--json', 'verify-proof', replay]))).toMatchObject({ error: { code: 'bad-proof' } });
    const human = await ecash(['verify-proof', file]);
    expect(human.stdout).toContain('double-spend proof verifies');

    // GET /v1/double-spends's answer as it comes (and `ecash bank double-spends --out`): every proof is checked.
    const listed = join(dir, 'listed.json');
    writeFileSync(
      listed,
      JSON.stringify({
        doubleSpends: [
          { doubleSpendId: 1, accountId: 'x', proof },
          { doubleSpendId: 2, accountId: 'x', proof },
        ],
      }),
    );
    const list = await ecash(['--json', 'verify-proof', listed]);
    expect(list.code, list.stderr).toBe(0);
    expect((jsonOf(list) as { valid: boolean; proofs: unknown[] }).proofs).toHaveLength(2);
    // Anything else is refused saying what is wanted, never as an unknown suite.
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ records: [] }));
    const wrong = await ecash(['--json', 'verify-proof', other]);
    expect(wrong.code).toBe(1);
    const { error } = jsonOf(wrong) as { error: { code: string; message: string } };
    expect(error.code).toBe('bad-proof');
    expect(error.message).toContain('"doubleSpends"');
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, JSON.stringify({ doubleSpends: [] }));
    expect(jsonOf(await ecash(['--json', 'verify-proof', empty]))).toMatchObject({ error: { code: 'no-proof' } });
  });
});

describe.each(adapters().filter((a) => a.kind === 'postgres'))('ecash bank on $kind', ({ kind, available }) => {
  let pg: TestDb;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-bank-cli-pg-'));
    if (available) pg = testDb(kind);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (available) await pg.dispose();
  });

  it.skipIf(!available)('initialises and audits a PostgreSQL bank, without the password in any message', async () => {
    const env = { ECASH_BANK_PASSPHRASE: PASSPHRASE };
    const r = await ecash(['--json', 'bank', 'init', '--db', pg.url, '--keys', join(dir, 'pg.keys'), '--denominations', 'EUR:100'], env);
    expect(r.code, r.stderr).toBe(0);
    // The database password never shows (whatever ECASH_TEST_PG_URL holds).
    const password = decodeURIComponent(new URL(pg.url).password);
    expect(password).not.toBe('');
    // As a URL's user info (the bare password may be a word like "ecash", which the output has
    // anyway); a boolean check, since a failing toContain would print the password into the CI log.
    const shows = (run: Run) => (run.stdout + run.stderr).includes(`:${password}@`);
    expect(shows(r), 'the database password in the output of init').toBe(false);
    const audit = await ecash(['--json', 'bank', 'audit', '--db', pg.url]);
    expect(jsonOf(audit)).toMatchObject({ ok: true });
    const listed = await ecash(['--json', 'bank', 'keys', 'list', '--db', pg.url]);
    expect((jsonOf(listed) as { keys: unknown[] }).keys).toHaveLength(1);
    expect(shows(audit) || shows(listed), 'the database password in the output of audit or keys list').toBe(false);
  });

  it.skipIf(!available)('refuses a schema that holds no bank (no-database) without creating it', async () => {
    const typo = `${pg.schema}_typo`;
    const url = pg.url.replace(`schema=${pg.schema}`, `schema=${typo}`);
    const r = await ecash(['--json', 'bank', 'audit', '--db', url]);
    expect(r.code).toBe(1);
    const { error } = jsonOf(r) as { error: { code: string; message: string } };
    expect(error.code).toBe('no-database');
    expect(error.message).toContain(typo);
    const schemas = await pg.raw('SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?', [typo]);
    expect(schemas).toEqual([]);
  });
});
