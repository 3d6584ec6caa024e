/**
 * Every amount the `ecash` command prints is written one way, with the currency's ISO 4217 minor
 * digits (10000 EUR-cents is 100.00 EUR, 700 yen is 700 JPY), and every amount it takes has the
 * range and form the HTTP APIs take. Run as the built command on an SQLite bank and a card image.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount, getGroup, MAX_AMOUNT, minorDigits, parseAmount, systemRandom } from '../../core/index.js';
import { openAccount } from '../core/fixtures.js';
import { openingBody } from '../bank/http-fixture.js';
import { runCli } from '../helpers/cli.js';

const G = getGroup('ristretto255-sha512');
const PASSPHRASE = 'a long enough bank passphrase';
const env = { ECASH_BANK_PASSPHRASE: PASSPHRASE };

describe('amounts', () => {
  it('are formatted with the ISO 4217 minor digits of their currency', () => {
    expect([minorDigits('EUR'), minorDigits('JPY'), minorDigits('KWD'), minorDigits('CLF')]).toEqual([2, 0, 3, 4]);
    expect(formatAmount(10_000, 'EUR')).toBe('100.00 EUR');
    expect(formatAmount(5, 'EUR')).toBe('0.05 EUR');
    expect(formatAmount(-1234, 'USD')).toBe('-12.34 USD');
    expect(formatAmount(700, 'JPY')).toBe('700 JPY');
    expect(formatAmount(1500, 'KWD')).toBe('1.500 KWD');
  });

  it('are taken as 1 to MAX_AMOUNT minor units, the range of the HTTP APIs', () => {
    expect(parseAmount('1')).toBe(1);
    expect(parseAmount(String(MAX_AMOUNT))).toBe(MAX_AMOUNT);
    for (const bad of ['0', '-5', '12.34', '1e3', '0100', String(MAX_AMOUNT + 1), 'abc', '']) {
      expect(() => parseAmount(bad), bad).toThrow(expect.objectContaining({ code: 'bad-amount' }));
    }
    for (const api of ['bank', 'pos']) {
      const doc = readFileSync(`docs/openapi/${api}.json`, 'utf8');
      const maxima = [...doc.matchAll(/"amount": \{[^}]*"maximum": (\d+)/g)].map((m) => Number(m[1]));
      expect(maxima.length, api).toBeGreaterThan(0);
      expect(new Set(maxima), api).toEqual(new Set([MAX_AMOUNT]));
    }
  });
});

describe('the amounts `ecash` prints', () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-amounts-'));
    db = join(dir, 'bank.db');
    const init = await runCli(
      ['bank', 'init', '--db', db, '--keys', join(dir, 'bank.keys'), '--denominations', 'EUR:100,500;JPY:500'],
      env,
    );
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('credit, account show, keys list and merchant show write minor units as the currency does', async () => {
    const opening = join(dir, 'opening.json');
    writeFileSync(opening, JSON.stringify(openingBody(G, openAccount(G, 'alice', systemRandom))));
    const opened = await runCli(
      ['--json', 'bank', 'account', 'open', '--db', db, '--keys', join(dir, 'bank.keys'), '--opening', opening],
      env,
    );
    expect(opened.code, opened.stderr).toBe(0);
    const { accountId } = JSON.parse(opened.stdout) as { accountId: string };

    const euros = await runCli(['bank', 'account', 'credit', accountId, '--db', db, '--amount', '10000', '--currency', 'EUR']);
    expect(euros.code, euros.stderr).toBe(0);
    expect(euros.stdout).toContain('credited 100.00 EUR');
    const yen = await runCli(['bank', 'account', 'credit', accountId, '--db', db, '--amount', '700', '--currency', 'JPY']);
    expect(yen.stdout).toContain('credited 700 JPY');
    expect(yen.stdout).toMatch(/balances: .*100\.00 EUR/);

    const shown = await runCli(['bank', 'account', 'show', accountId, '--db', db]);
    expect(shown.stdout).toContain('  100.00 EUR');
    expect(shown.stdout).toContain('  700 JPY');

    const keys = await runCli(['bank', 'keys', 'list', '--db', db]);
    expect(keys.stdout).toMatch(/ 1\.00 EUR /);
    expect(keys.stdout).toMatch(/ 5\.00 EUR /);
    expect(keys.stdout).toMatch(/ 500 JPY /);

    const added = await runCli(['bank', 'merchant', 'add', 'shop-1', '--db', db, '--fee', '2']);
    expect(added.code, added.stderr).toBe(0);
    const merchant = await runCli(['bank', 'merchant', 'show', 'shop-1', '--db', db]);
    expect(merchant.stdout).toContain('fee 2 minor units per coin');

    const audit = await runCli(['bank', 'audit', '--db', db]);
    expect(audit.stdout).toContain('EUR: all balances sum to 0.00 EUR');
  });

  it("refuses an amount outside the APIs' range with bad-amount, naming the range", async () => {
    for (const amount of ['0', String(MAX_AMOUNT + 1), '12.34']) {
      const r = await runCli(['--json', 'bank', 'account', 'credit', 'nobody', '--db', db, '--amount', amount, '--currency', 'EUR']);
      expect(r.code, amount).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'bad-amount' } });
      expect(r.stderr).toContain(`1 to ${MAX_AMOUNT}`);
    }
  });

  it("card info writes the balance and the no-PIN limit in the card's terms", async () => {
    const card = join(dir, 'wallet.card');
    const created = await runCli(['card', 'create', card, '--limit', '2000'], { ECASH_PIN: '1234', ECASH_PUK: '12345678' });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('0 minor units of 2000 minor units');
    expect(created.stdout).toContain('balance: empty');
    const badLimit = await runCli(['--json', 'card', 'create', join(dir, 'other.card'), '--limit', '20.00'], {
      ECASH_PIN: '1234',
      ECASH_PUK: '12345678',
    });
    expect(JSON.parse(badLimit.stdout)).toMatchObject({ error: { code: 'bad-amount' } });
  });
});
