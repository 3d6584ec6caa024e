/**
 * Fuzzing the terminals' journals as they are read back: a POS journal and a load journal with
 * real rows (a payment with its request, transcripts, a settlement batch and its results; a
 * withdrawal session through its steps), then one column of one table set to any SQLite value
 * (integer, real, text, JSON, bytes, NULL) or rows deleted, as a damaged or edited file holds.
 * Property: every read gives values of the declared types, or is refused with an EcashError and a
 * kebab-case code (`journal-corrupt` for a damaged row).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LoadJournal, type LoadSession } from '../../host/load/journal.js';
import { Journal, PAYMENT_STATES, type PaymentRecord } from '../../host/pos/journal.js';
import { decodesOrRefuses, fuzz, TARGET_TIMEOUT_MS } from './harness.js';

const FILE = import.meta.url;
const dir = mkdtempSync(join(tmpdir(), 'ecash-fuzz-journals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const POS_COLUMNS: Record<string, string[]> = {
  payments: ['id', 'created_at', 'amount', 'currency', 'reference', 'merchant_id', 'terminal_id', 'mode'],
  payment_events: ['payment_id', 'seq', 'at', 'state', 'detail'],
  payment_requests: ['payment_id', 'attempt', 'timestamp', 'nonce', 'selection'],
  coin_transcripts: ['payment_id', 'idx', 'key_id', 'coin_a', 'value', 'transcript', 'evidence_only'],
  settlement_batches: ['batch_id', 'created_at'],
  settlement_items: ['batch_id', 'payment_id', 'idx'],
  settlement_results: ['payment_id', 'idx', 'batch_id', 'at', 'outcome', 'detail'],
};
const LOAD_COLUMNS: Record<string, string[]> = {
  sessions: ['session_id', 'account', 'key_id', 'value', 'currency', 'created_at'],
  session_steps: ['session_id', 'seq', 'at', 'step', 'c', 'r', 'detail'],
};

type Edit = { kind: 'set'; table: number; column: number; row: number; value: unknown } | { kind: 'delete'; table: number; row: number };

const sqliteValue = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, 1, -1, 2 ** 53, 1.5),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('approved', 'settled', 'credited', 'stored', 'online', '{"a":1}', '[1,"x"]', '[', 'null', 'EUR', ''),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.constant(null),
);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('set' as const), table: fc.nat(), column: fc.nat(), row: fc.nat(), value: sqliteValue }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), table: fc.nat(), row: fc.nat() }) },
);

/** Runs `read` on a copy of the journal `seed` with `edits` applied; removes the copy. */
function onEditedCopy<J extends { close(): void }>(
  seed: string,
  columns: Record<string, string[]>,
  edits: Edit[],
  open: (path: string) => J,
  read: (journal: J) => void,
): void {
  const path = `${seed}-${copies++}`;
  copyFileSync(seed, path);
  try {
    applyEdits(path, columns, edits);
    const journal = open(path);
    try {
      read(journal);
    } finally {
      journal.close();
    }
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}
let copies = 0;

/** Applies edits to the database file at `path` (constraints that refuse an edit leave it out). */
function applyEdits(path: string, columns: Record<string, string[]>, edits: Edit[]): void {
  const db = new Database(path);
  try {
    const tables = Object.keys(columns);
    for (const e of edits) {
      const table = tables[e.table % tables.length]!;
      const rowids = (db.prepare(`SELECT rowid AS id FROM ${table}`).all() as { id: number }[]).map((r) => r.id);
      if (rowids.length === 0) continue;
      const rowid = rowids[e.row % rowids.length]!;
      try {
        if (e.kind === 'delete') db.prepare(`DELETE FROM ${table} WHERE rowid = ?`).run(rowid);
        else
          db.prepare(`UPDATE ${table} SET ${columns[table]![e.column % columns[table]!.length]} = ? WHERE rowid = ?`).run(e.value, rowid);
      } catch (err) {
        if (!(err instanceof Database.SqliteError)) throw err;
      }
    }
  } finally {
    db.close();
  }
}

const isInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v);

function checkPayment(p: PaymentRecord): void {
  expect(typeof p.id).toBe('string');
  expect(isInt(p.createdAt) && isInt(p.amount) && p.amount > 0).toBe(true);
  expect(typeof p.currency === 'string' && typeof p.merchantId === 'string' && typeof p.terminalId === 'string').toBe(true);
  expect(p.reference === null || typeof p.reference === 'string').toBe(true);
  expect(['offline', 'online', 'floor-limit']).toContain(p.mode);
}

function checkSession(s: LoadSession): void {
  expect(typeof s.account === 'string' && typeof s.keyId === 'string' && typeof s.currency === 'string').toBe(true);
  expect(isInt(s.value)).toBe(true);
  expect(['started', 'challenged', 'answered', 'stored', 'abandoned', 'failed']).toContain(s.step);
  for (const v of [s.c, s.r, s.detail]) expect(v === null || typeof v === 'string').toBe(true);
}

/** Every read of the POS journal a terminal makes. */
function readPos(journal: Journal, id: string): void {
  decodesOrRefuses(() => journal.payment(id), checkPayment);
  decodesOrRefuses(
    () => journal.currentState(id),
    (s) => expect(PAYMENT_STATES).toContain(s),
  );
  decodesOrRefuses(
    () => journal.events(id),
    (events) => {
      for (const e of events) {
        expect(isInt(e.seq) && isInt(e.at)).toBe(true);
        expect(PAYMENT_STATES).toContain(e.state);
        expect(e.detail === null || (typeof e.detail === 'object' && !Array.isArray(e.detail))).toBe(true);
      }
    },
  );
  for (const list of [() => journal.listPayments(), () => journal.unfinishedPayments()]) {
    decodesOrRefuses(list, (ps) => ps.forEach((p) => (checkPayment(p), expect(PAYMENT_STATES).toContain(p.state))));
  }
  decodesOrRefuses(
    () => journal.latestRequest(id),
    (r) => {
      if (r === undefined) return;
      expect(isInt(r.timestamp)).toBe(true);
      expect(r.nonce).toBeInstanceOf(Uint8Array);
      expect(r.accepted.every((k) => typeof k === 'string')).toBe(true);
    },
  );
  const checkTranscripts = (ts: ReturnType<Journal['transcripts']>) => {
    for (const t of ts) {
      expect(typeof t.paymentId).toBe('string');
      expect(isInt(t.index) && isInt(t.value)).toBe(true);
      for (const b of [t.keyId, t.coinA, t.bytes]) expect(b).toBeInstanceOf(Uint8Array);
      expect(typeof t.evidenceOnly).toBe('boolean');
    }
  };
  decodesOrRefuses(() => journal.transcripts(id), checkTranscripts);
  decodesOrRefuses(() => journal.unsettledTranscripts(100), checkTranscripts);
  decodesOrRefuses(
    () => journal.transcript(id, 0),
    (t) => checkTranscripts([t]),
  );
  decodesOrRefuses(
    () => journal.pendingBatches(),
    (bs) => bs.forEach((b) => b.items.forEach((i) => expect(typeof i.paymentId === 'string' && isInt(i.index)).toBe(true))),
  );
  decodesOrRefuses(
    () => journal.settlementResults(id),
    (rs) => rs.forEach((r) => expect(['credited', 'replay', 'double-spend', 'rejected']).toContain(r.outcome)),
  );
  decodesOrRefuses(
    () => journal.settlementStatus(),
    (s) => expect(isInt(s.unsettled) && isInt(s.pendingBatches)).toBe(true),
  );
}

describe('fuzzing the terminals’ journals', () => {
  it(
    'the POS journal: damaged rows are read as their types or refused with a code',
    async () => {
      const seed = join(dir, 'pos-seed.db');
      const journal = new Journal(seed);
      const ids: string[] = [];
      for (const [i, mode] of (['offline', 'online'] as const).entries()) {
        const p = journal.createPayment({
          amount: 520,
          currency: 'EUR',
          reference: i === 0 ? 'order-1' : null,
          merchantId: 'shop-1',
          terminalId: 'till-1',
          mode,
        });
        ids.push(p.id);
        journal.recordRequest(p.id, { timestamp: 1_780_000_000_000, nonce: new Uint8Array(16).fill(i), accepted: ['aa'.repeat(32)] });
        const t = (index: number) => ({
          index,
          keyId: new Uint8Array(32).fill(1),
          coinA: new Uint8Array(32).fill(10 + i * 2 + index),
          value: 260,
          bytes: new Uint8Array(300).fill(3),
          evidenceOnly: false,
        });
        journal.recordResponses(p.id, [t(0), t(1)], undefined, { state: 'approved', detail: { coins: 2 } });
      }
      journal.recordBatch('batch-1', [
        { paymentId: ids[0]!, index: 0 },
        { paymentId: ids[0]!, index: 1 },
      ]);
      journal.recordResults('batch-1', [
        { paymentId: ids[0]!, index: 0, outcome: 'credited' },
        { paymentId: ids[0]!, index: 1, outcome: 'double-spend', detail: { I: 'x' } },
      ]);
      journal.recordBatch('batch-2', [{ paymentId: ids[1]!, index: 0 }]);
      journal.close();
      await fuzz(
        FILE,
        'POS journal rows',
        fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.nat(1), (edits, which) =>
          onEditedCopy(
            seed,
            POS_COLUMNS,
            edits,
            (path) => new Journal(path),
            (edited) => readPos(edited, ids[which]!),
          ),
        ),
        100,
      );
    },
    TARGET_TIMEOUT_MS,
  );

  it(
    'the load journal: damaged rows are read as their types or refused with a code',
    async () => {
      const seed = join(dir, 'load-seed.db');
      const journal = new LoadJournal(seed);
      journal.begin({ sessionId: 's-1', account: 'acct-1', keyId: 'aa'.repeat(32), value: 500, currency: 'EUR' });
      journal.step('s-1', 'challenged', { c: 'c1' });
      journal.step('s-1', 'answered', { r: 'r1' });
      journal.begin({ sessionId: 's-2', account: 'acct-1', keyId: 'bb'.repeat(32), value: 100, currency: 'EUR' });
      journal.step('s-2', 'stored', { detail: 'slot 3' });
      journal.close();
      await fuzz(
        FILE,
        'load journal rows',
        fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) =>
          onEditedCopy(
            seed,
            LOAD_COLUMNS,
            edits,
            (path) => new LoadJournal(path),
            (edited) => {
              for (const id of ['s-1', 's-2']) decodesOrRefuses(() => edited.session(id), checkSession);
              decodesOrRefuses(
                () => edited.sessionByChallenge('c1'),
                (s) => s === undefined || checkSession(s),
              );
              decodesOrRefuses(
                () => edited.unfinished(),
                (ss) => ss.forEach(checkSession),
              );
            },
          ),
        ),
        100,
      );
    },
    TARGET_TIMEOUT_MS,
  );
});
