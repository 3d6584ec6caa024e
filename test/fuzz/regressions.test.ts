/**
 * The fuzzers' counterexamples, kept as fixed cases. Each failed before its fix (named here).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { u32be } from '../../core/index.js';
import { inspectCardImage, JOURNAL_OFFSET, openCard } from '../../firmware-sim/index.js';
import Database from 'better-sqlite3';
import { ParsedParameters } from '../../host/bank-client/index.js';
import type { ParametersJson } from '../../host/bank-client/index.js';
import { KeyFile } from '../../host/bank/keyfile.js';
import { LoadJournal } from '../../host/load/journal.js';
import { Journal } from '../../host/pos/journal.js';
import { terms } from '../core/fixtures.js';
import { walletImage } from './card-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'ecash-fuzz-regressions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fuzz counterexamples', () => {
  // Before: the journal's recovery applied any write, so this image opened (its recovery
  // overwrote the header's magic) and the next power-up refused it as foreign. The journal now
  // refuses writes outside the applet's memory (firmware-sim/memory/journal.ts, recover).
  it('a card image whose journal writes into its header is refused as corrupt, untouched', async () => {
    const image = (await walletImage()).image;
    const body = Uint8Array.of(0, 0, 0, 0, 0, 1, 0); // one write: 1 byte (0x00) at offset 0
    image.set(body, JOURNAL_OFFSET + 16);
    image.set(u32be(0x4a524e4c), JOURNAL_OFFSET);
    image.set(u32be(body.length), JOURNAL_OFFSET + 4);
    image.set(u32be(crc32(body, crc32(u32be(body.length)))), JOURNAL_OFFSET + 8);
    const path = join(dir, 'journal-into-header.card');
    writeFileSync(path, image);
    expect(() => openCard(path)).toThrow(expect.objectContaining({ code: 'card-image-corrupt' }));
    expect(() => inspectCardImage(path)).toThrow(expect.objectContaining({ code: 'card-image-corrupt' }));
    expect(new Uint8Array(readFileSync(path))).toEqual(image);
  });

  // Before: the key file's scrypt cost went to node:crypto unchecked (it is not authenticated):
  // N = 32769 threw a RangeError, and a large p kept `bank serve` busy for hours. Now refused
  // with bad-keyfile (host/bank/keyfile.ts, checkScryptCost).
  it.each([
    ['N not a power of two', { N: 32769 }],
    ['N beyond 2^30', { N: 2 ** 31 }],
    ['memory beyond the bound', { N: 2 ** 20 }],
    ['a huge p', { p: 1_000_000_000 }],
    ['a huge r', { r: 1 << 20 }],
  ])('a key file asking for %s is refused with bad-keyfile', (_name, kdf) => {
    const path = join(dir, `keys-${Object.keys(kdf)[0]}-${Object.values(kdf)[0]}`);
    KeyFile.create(path, 'correct horse battery', 'ristretto255-sha512', [terms(500)]);
    const file = JSON.parse(readFileSync(path, 'utf8')) as { kdf: Record<string, unknown> };
    Object.assign(file.kdf, kdf);
    writeFileSync(path, JSON.stringify(file));
    expect(() => KeyFile.open(path, 'correct horse battery')).toThrow(expect.objectContaining({ code: 'bad-keyfile' }));
  });

  // Before: journal rows were cast to their types unchecked, so a damaged row crashed the reader
  // (a SyntaxError from an event's detail, a TypeError for a session without steps) or travelled
  // on as a wrong type (text as a key id). Now each read is checked (core/stored-row.ts) and a
  // damaged row is refused with journal-corrupt.
  it('damaged POS journal rows are refused with journal-corrupt', () => {
    const path = join(dir, 'pos.db');
    const journal = new Journal(path);
    const p = journal.createPayment({
      amount: 520,
      currency: 'EUR',
      reference: null,
      merchantId: 'shop-1',
      terminalId: 'till-1',
      mode: 'offline',
    });
    journal.recordRequest(p.id, { timestamp: 1_780_000_000_000, nonce: new Uint8Array(16), accepted: ['aa'.repeat(32)] });
    journal.recordResponses(p.id, [
      { index: 0, keyId: new Uint8Array(32), coinA: new Uint8Array(32), value: 520, bytes: new Uint8Array(10), evidenceOnly: false },
    ]);
    journal.close();
    const db = new Database(path);
    db.prepare("UPDATE payment_events SET detail = '{not json' WHERE seq = 2").run();
    db.prepare("UPDATE payment_requests SET selection = '['").run();
    db.prepare("UPDATE coin_transcripts SET key_id = 'text, not bytes'").run();
    db.prepare("UPDATE payments SET mode = 'sometimes'").run();
    db.close();
    const edited = new Journal(path);
    try {
      for (const read of [
        () => edited.events(p.id),
        () => edited.latestRequest(p.id),
        () => edited.transcripts(p.id),
        () => edited.payment(p.id),
      ]) {
        expect(read).toThrow(expect.objectContaining({ code: 'journal-corrupt' }));
      }
    } finally {
      edited.close();
    }
  });

  it('a load journal session without steps is refused with journal-corrupt', () => {
    const path = join(dir, 'load.db');
    const journal = new LoadJournal(path);
    journal.begin({ sessionId: 's-1', account: 'acct-1', keyId: 'aa'.repeat(32), value: 500, currency: 'EUR' });
    journal.close();
    const db = new Database(path);
    db.prepare('DELETE FROM session_steps').run();
    db.close();
    const edited = new LoadJournal(path);
    try {
      expect(() => edited.session('s-1')).toThrow(expect.objectContaining({ code: 'journal-corrupt' }));
    } finally {
      edited.close();
    }
  });

  // Before: a terminal read the bank's GET /v1/parameters answer unchecked: keys that are not a
  // list, or no object at all, threw a TypeError. Now refused with bank-protocol
  // (host/bank-client/public-parameters.ts, ParsedParameters.update).
  it.each([
    ['keys not a list', { suite: 'ristretto255-sha512', keys: false }],
    ['null', null],
    ['a key that is null', { suite: 'ristretto255-sha512', keys: [null] }],
  ])('bank parameters with %s are refused with a code', (_name, params) => {
    let thrown: unknown;
    try {
      new ParsedParameters().update(params as unknown as ParametersJson);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ name: 'EcashError', code: expect.stringMatching(/^(bank-protocol|bad-json)$/) });
  });
});
