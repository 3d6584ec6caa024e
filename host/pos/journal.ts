/**
 * The terminal's journal: SQLite on disk (WAL, synchronous=FULL so that a committed row survives
 * power loss), the one place that says what happened to every payment. Rows are only inserted,
 * never edited in place: a payment's state is its latest event, a coin's settlement its latest
 * result. A payment is approved only after its transcripts are committed here.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { EcashError, StoredRow } from '../../core/index.js';
import { FINAL_STATES_SQL, PAYMENT_STATES, type PaymentState, takesEvent } from './payment-states.js';

export { FINAL_STATES, isFinal, PAYMENT_STATES, type PaymentState } from './payment-states.js';

const RISK_MODES = ['offline', 'online', 'floor-limit'] as const;
export type RiskMode = (typeof RISK_MODES)[number];

export interface PaymentRecord {
  id: string;
  createdAt: number;
  amount: number;
  currency: string;
  reference: string | null;
  merchantId: string;
  terminalId: string;
  mode: RiskMode;
}

export interface PaymentEvent {
  seq: number;
  at: number;
  state: PaymentState;
  detail: Record<string, unknown> | null;
}

/** What the terminal sent the card (kept so a retry after a lost response sends the same). */
export interface StoredRequest {
  timestamp: number;
  nonce: Uint8Array;
  /**
   * The key ids (hex) the PAY request offered, in its order; the amount and currency are the
   * payment's. Empty for a request journalled by a terminal of the earlier protocol (which named
   * coins): such a request cannot be sent again.
   */
  accepted: string[];
}

export interface StoredTranscript {
  paymentId: string;
  index: number;
  keyId: Uint8Array;
  coinA: Uint8Array;
  value: number;
  /** core's binary transcript encoding */
  bytes: Uint8Array;
  /** Deposited only as evidence of a double spend, never for credit. */
  evidenceOnly: boolean;
}

const SETTLEMENT_OUTCOMES = ['credited', 'replay', 'double-spend', 'rejected'] as const;
export type SettlementOutcome = (typeof SETTLEMENT_OUTCOMES)[number];

export interface SettlementResult {
  paymentId: string;
  index: number;
  outcome: SettlementOutcome;
  detail?: Record<string, unknown>;
}

/**
 * A coin the bank refused for a reason on the terminal's side (its credential, its bank, its
 * merchant's scopes at the bank...), taken back out of its batch: it is unsettled again and goes
 * into a new batch at the next settlement. A resend under the old batch id would only get the
 * bank's stored answer to that batch again.
 */
export interface ReleasedItem {
  paymentId: string;
  index: number;
  code: string;
  message: string;
}

/** Where a settlement run has got to in the unsettled transcripts (their order is payment id, index). */
export interface TranscriptCursor {
  paymentId: string;
  index: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  reference TEXT,
  merchant_id TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  mode TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_created ON payments (created_at);
CREATE TABLE IF NOT EXISTS payment_events (
  payment_id TEXT NOT NULL REFERENCES payments (id),
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  state TEXT NOT NULL,
  detail TEXT,
  PRIMARY KEY (payment_id, seq)
);
-- The register's Idempotency-Key of each payment it created with one: a retry finds the payment.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  payment_id TEXT NOT NULL UNIQUE REFERENCES payments (id)
);
CREATE TABLE IF NOT EXISTS payment_requests (
  payment_id TEXT NOT NULL REFERENCES payments (id),
  attempt INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  nonce BLOB NOT NULL,
  selection TEXT NOT NULL,
  PRIMARY KEY (payment_id, attempt)
);
CREATE TABLE IF NOT EXISTS coin_transcripts (
  payment_id TEXT NOT NULL REFERENCES payments (id),
  idx INTEGER NOT NULL,
  key_id BLOB NOT NULL,
  coin_a BLOB NOT NULL,
  value INTEGER NOT NULL,
  transcript BLOB NOT NULL,
  evidence_only INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (payment_id, idx)
);
CREATE INDEX IF NOT EXISTS coin_transcripts_a ON coin_transcripts (coin_a);
CREATE TABLE IF NOT EXISTS settlement_batches (
  batch_id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settlement_items (
  batch_id TEXT NOT NULL REFERENCES settlement_batches (batch_id),
  payment_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (batch_id, payment_id, idx)
);
CREATE TABLE IF NOT EXISTS settlement_results (
  payment_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  batch_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT,
  PRIMARY KEY (payment_id, idx, batch_id)
);
CREATE TABLE IF NOT EXISTS settlement_attempts (
  batch_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  error TEXT
);
CREATE TABLE IF NOT EXISTS settlement_releases (
  batch_id TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  at INTEGER NOT NULL,
  code TEXT NOT NULL,
  message TEXT,
  PRIMARY KEY (batch_id, payment_id, idx)
);
`;

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A short payment id for receipts and APIs (10 characters of Crockford base32, 50 bits). */
export function newPaymentId(): string {
  const b = randomBytes(10);
  let out = '';
  for (const x of b) out += ID_ALPHABET[x & 31];
  return out;
}

export class Journal {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** A new payment; with the register's idempotency key, committed with it (see `paymentByIdempotencyKey`). */
  createPayment(p: Omit<PaymentRecord, 'id' | 'createdAt'>, now = Date.now(), idempotencyKey?: string): PaymentRecord {
    const record: PaymentRecord = { ...p, id: newPaymentId(), createdAt: now };
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO payments (id, created_at, amount, currency, reference, merchant_id, terminal_id, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(record.id, now, p.amount, p.currency, p.reference, p.merchantId, p.terminalId, p.mode);
      if (idempotencyKey !== undefined) {
        this.db.prepare('INSERT INTO idempotency_keys (key, payment_id) VALUES (?, ?)').run(idempotencyKey, record.id);
      }
      this.insertEvent(record.id, 'created', null, now);
    })();
    return record;
  }

  /** The payment the register created with `key`, if any (kept for good: a retry may come after a restart). */
  paymentByIdempotencyKey(key: string): PaymentRecord | undefined {
    const row = this.db.prepare('SELECT p.* FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id WHERE k.key = ?').get(key) as
      | Record<string, unknown>
      | undefined;
    return row === undefined ? undefined : rowToPayment(row);
  }

  private insertEvent(id: string, state: PaymentState, detail: Record<string, unknown> | null, now: number): PaymentEvent {
    const row = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM payment_events WHERE payment_id = ?').get(id) as { seq: number };
    const seq = row.seq + 1;
    this.db
      .prepare('INSERT INTO payment_events (payment_id, seq, at, state, detail) VALUES (?, ?, ?, ?, ?)')
      .run(id, seq, now, state, detail === null ? null : JSON.stringify(detail));
    return { seq, at: now, state, detail };
  }

  /** Appends a state change; refused once the payment has reached a final state. */
  appendEvent(id: string, state: PaymentState, detail: Record<string, unknown> | null = null, now = Date.now()): PaymentEvent {
    return this.db.transaction(() => {
      const current = this.currentState(id);
      if (!takesEvent(current, state)) throw new EcashError('payment-final', `payment ${id} is already ${current}`);
      return this.insertEvent(id, state, detail, now);
    })();
  }

  payment(id: string): PaymentRecord {
    const row = this.db.prepare('SELECT * FROM payments WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    if (row === undefined) throw new EcashError('payment-not-found', `no payment ${id} in this terminal's journal`);
    return rowToPayment(row);
  }

  events(id: string): PaymentEvent[] {
    return (
      this.db.prepare('SELECT seq, at, state, detail FROM payment_events WHERE payment_id = ? ORDER BY seq').all(id) as Record<
        string,
        unknown
      >[]
    ).map((r) => {
      const row = eventRow(r);
      return {
        seq: row.integer('seq', 1),
        at: row.integer('at'),
        state: row.oneOf('state', PAYMENT_STATES),
        detail: row.optionalJsonObject('detail'),
      };
    });
  }

  currentState(id: string): PaymentState {
    const row = this.db.prepare('SELECT state FROM payment_events WHERE payment_id = ? ORDER BY seq DESC LIMIT 1').get(id) as
      | Record<string, unknown>
      | undefined;
    if (row === undefined) throw new EcashError('payment-not-found', `no payment ${id} in this terminal's journal`);
    return eventRow(row).oneOf('state', PAYMENT_STATES);
  }

  listPayments(opts: { limit?: number; before?: number } = {}): (PaymentRecord & { state: PaymentState })[] {
    const rows = this.db
      .prepare(
        `SELECT p.*, (SELECT state FROM payment_events e WHERE e.payment_id = p.id ORDER BY seq DESC LIMIT 1) AS state
         FROM payments p WHERE p.created_at < ? ORDER BY p.created_at DESC, p.id LIMIT ?`,
      )
      .all(opts.before ?? Number.MAX_SAFE_INTEGER, Math.min(opts.limit ?? 50, 1000)) as Record<string, unknown>[];
    return rows.map(rowToPaymentWithState);
  }

  /** Payments that were interrupted after a request reached the card (they must be resumed). */
  unfinishedPayments(): (PaymentRecord & { state: PaymentState })[] {
    const rows = this.db
      .prepare(
        `SELECT p.*, s.state FROM payments p JOIN (
           SELECT payment_id, state FROM payment_events e1
           WHERE seq = (SELECT MAX(seq) FROM payment_events e2 WHERE e2.payment_id = e1.payment_id)) s
         ON s.payment_id = p.id WHERE s.state NOT IN (${FINAL_STATES_SQL}) ORDER BY p.created_at`,
      )
      .all() as Record<string, unknown>[];
    return rows.map(rowToPaymentWithState);
  }

  /** Persists what will be sent to the card before it is sent (a crash after the card answers can then be recovered). */
  recordRequest(id: string, request: StoredRequest, now = Date.now()): void {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT COALESCE(MAX(attempt), 0) AS n FROM payment_requests WHERE payment_id = ?').get(id) as {
        n: number;
      };
      this.db
        .prepare('INSERT INTO payment_requests (payment_id, attempt, timestamp, nonce, selection) VALUES (?, ?, ?, ?, ?)')
        .run(id, row.n + 1, request.timestamp, Buffer.from(request.nonce), JSON.stringify(request.accepted));
      this.appendEvent(id, 'request-sent', { attempt: row.n + 1, keysOffered: request.accepted.length }, now);
    })();
  }

  latestRequest(id: string): StoredRequest | undefined {
    const r = this.db
      .prepare('SELECT timestamp, nonce, selection FROM payment_requests WHERE payment_id = ? ORDER BY attempt DESC LIMIT 1')
      .get(id) as Record<string, unknown> | undefined;
    if (r === undefined) return undefined;
    const row = new StoredRow(r, "the terminal's journal, payment_requests");
    // The column kept its name; it holds the offered key ids (an earlier protocol's coin choices otherwise).
    const selection = row.json('selection', Array.isArray, 'a JSON array');
    const accepted = selection.every((k): k is string => typeof k === 'string') ? selection : [];
    return { timestamp: row.integer('timestamp', 0), nonce: row.blob('nonce'), accepted };
  }

  /**
   * Stores the card's answers (all of them, valid or not) and moves to responses-received, and on
   * to `outcome` if given. A
   * transcript of a coin this terminal already holds is stored as evidence only (deposited so the
   * bank can identify the double spender, never for credit).
   */
  recordResponses(
    id: string,
    transcripts: readonly Omit<StoredTranscript, 'paymentId'>[],
    now = Date.now(),
    outcome?: { state: 'approved' | 'declined'; detail: Record<string, unknown> },
  ): void {
    this.db.transaction(() => {
      const ins = this.db.prepare(
        'INSERT INTO coin_transcripts (payment_id, idx, key_id, coin_a, value, transcript, evidence_only) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const t of transcripts) {
        ins.run(id, t.index, Buffer.from(t.keyId), Buffer.from(t.coinA), t.value, Buffer.from(t.bytes), t.evidenceOnly ? 1 : 0);
      }
      this.appendEvent(id, 'responses-received', { coins: transcripts.length }, now);
      // The verdict, when it is already known, commits with the answers: one fsync, not two.
      if (outcome !== undefined) this.appendEvent(id, outcome.state, outcome.detail, now);
    })();
  }

  transcripts(id: string): StoredTranscript[] {
    return (this.db.prepare('SELECT * FROM coin_transcripts WHERE payment_id = ? ORDER BY idx').all(id) as Record<string, unknown>[]).map(
      rowToTranscript,
    );
  }

  /** Whether this terminal already holds a transcript of the coin with this A in another payment. */
  coinSeenElsewhere(coinA: Uint8Array, paymentId: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM coin_transcripts WHERE coin_a = ? AND payment_id <> ? LIMIT 1').get(Buffer.from(coinA), paymentId) !==
      undefined
    );
  }

  /**
   * Transcripts to deposit: those of approved payments and evidence that are in no batch (or only
   * in batches that released them), in (payment id, index) order, after `after` if given.
   */
  unsettledTranscripts(limit: number, after?: TranscriptCursor): StoredTranscript[] {
    return (
      this.db
        .prepare(
          `SELECT t.* FROM coin_transcripts t
           WHERE (t.evidence_only = 1 OR (SELECT state FROM payment_events e WHERE e.payment_id = t.payment_id ORDER BY seq DESC LIMIT 1) = 'approved')
             AND NOT EXISTS (SELECT 1 FROM settlement_items i WHERE i.payment_id = t.payment_id AND i.idx = t.idx
               AND NOT EXISTS (SELECT 1 FROM settlement_releases r WHERE r.batch_id = i.batch_id AND r.payment_id = i.payment_id AND r.idx = i.idx))
             AND (t.payment_id, t.idx) > (?, ?)
           ORDER BY t.payment_id, t.idx LIMIT ?`,
        )
        .all(after?.paymentId ?? '', after?.index ?? -1, limit) as Record<string, unknown>[]
    ).map(rowToTranscript);
  }

  /** Records which transcripts a settlement batch carries, before it is sent (its id is its idempotency key). */
  recordBatch(batchId: string, items: readonly { paymentId: string; index: number }[], now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO settlement_batches (batch_id, created_at) VALUES (?, ?)').run(batchId, now);
      const ins = this.db.prepare('INSERT INTO settlement_items (batch_id, payment_id, idx) VALUES (?, ?, ?)');
      for (const it of items) ins.run(batchId, it.paymentId, it.index);
    })();
  }

  /** Batches sent but not answered (after a crash, a network failure, a refusal): resend them as they are. */
  pendingBatches(): { batchId: string; items: { paymentId: string; index: number }[] }[] {
    const batches = this.db
      .prepare(
        `SELECT b.batch_id FROM settlement_batches b
         WHERE NOT EXISTS (SELECT 1 FROM settlement_results r WHERE r.batch_id = b.batch_id)
           AND NOT EXISTS (SELECT 1 FROM settlement_releases r WHERE r.batch_id = b.batch_id)
         ORDER BY b.created_at`,
      )
      .all() as { batch_id: string }[];
    return batches.map((b) => ({
      batchId: b.batch_id,
      items: (
        this.db
          .prepare('SELECT payment_id, idx FROM settlement_items WHERE batch_id = ? ORDER BY payment_id, idx')
          .all(b.batch_id) as Record<string, unknown>[]
      ).map((r) => {
        const row = new StoredRow(r, "the terminal's journal, settlement_items");
        return { paymentId: row.text('payment_id'), index: row.integer('idx', 0) };
      }),
    }));
  }

  transcript(paymentId: string, index: number): StoredTranscript {
    const row = this.db.prepare('SELECT * FROM coin_transcripts WHERE payment_id = ? AND idx = ?').get(paymentId, index) as
      | Record<string, unknown>
      | undefined;
    if (row === undefined) throw new EcashError('transcript-not-found', `no transcript ${index} in payment ${paymentId}`);
    return rowToTranscript(row);
  }

  recordAttemptFailure(batchId: string, error: string, now = Date.now()): void {
    this.db.prepare('INSERT INTO settlement_attempts (batch_id, at, error) VALUES (?, ?, ?)').run(batchId, now, error);
  }

  /**
   * Stores the bank's answer to a batch: its verdicts per coin, and the coins it `released` (refused
   * for a reason on this side, to be deposited again in a new batch). Marks payments whose coins
   * all have a verdict settled.
   */
  recordResults(batchId: string, results: readonly SettlementResult[], now = Date.now(), released: readonly ReleasedItem[] = []): void {
    this.db.transaction(() => {
      const ins = this.db.prepare(
        'INSERT OR IGNORE INTO settlement_results (payment_id, idx, batch_id, at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const release = this.db.prepare(
        'INSERT OR IGNORE INTO settlement_releases (batch_id, payment_id, idx, at, code, message) VALUES (?, ?, ?, ?, ?, ?)',
      );
      for (const r of released) release.run(batchId, r.paymentId, r.index, now, r.code, r.message);
      const touched = new Set<string>();
      for (const r of results) {
        ins.run(r.paymentId, r.index, batchId, now, r.outcome, r.detail === undefined ? null : JSON.stringify(r.detail));
        touched.add(r.paymentId);
      }
      for (const id of touched) {
        if (this.currentState(id) !== 'approved') continue;
        const open = this.db
          .prepare(
            `SELECT COUNT(*) AS n FROM coin_transcripts t WHERE t.payment_id = ? AND NOT EXISTS (
               SELECT 1 FROM settlement_results r WHERE r.payment_id = t.payment_id AND r.idx = t.idx)`,
          )
          .get(id) as { n: number };
        if (open.n === 0) {
          const outcomes = this.db
            .prepare(`SELECT outcome, COUNT(*) AS n FROM settlement_results WHERE payment_id = ? GROUP BY outcome`)
            .all(id) as {
            outcome: string;
            n: number;
          }[];
          this.insertEvent(id, 'settled', { outcomes: Object.fromEntries(outcomes.map((o) => [o.outcome, o.n])) }, now);
        }
      }
    })();
  }

  settlementResults(paymentId: string): (SettlementResult & { batchId: string; at: number })[] {
    return (
      this.db.prepare(`SELECT * FROM settlement_results WHERE payment_id = ? ORDER BY idx, at`).all(paymentId) as Record<string, unknown>[]
    ).map((r) => {
      const row = new StoredRow(r, "the terminal's journal, settlement_results");
      const detail = row.optionalJsonObject('detail');
      return {
        paymentId: row.text('payment_id'),
        index: row.integer('idx', 0),
        batchId: row.text('batch_id'),
        at: row.integer('at'),
        outcome: row.oneOf('outcome', SETTLEMENT_OUTCOMES),
        ...(detail === null ? {} : { detail }),
      };
    });
  }

  /** Settlement overview: transcripts waiting, batches in flight, outcomes so far, double spends found. */
  settlementStatus(): {
    unsettled: number;
    pendingBatches: number;
    outcomes: Record<string, number>;
    doubleSpends: { paymentId: string; index: number; at: number }[];
  } {
    const unsettled = this.unsettledTranscripts(1_000_000).length;
    const outcomes = this.db.prepare(`SELECT outcome, COUNT(*) AS n FROM settlement_results GROUP BY outcome`).all() as {
      outcome: string;
      n: number;
    }[];
    const ds = this.db
      .prepare(`SELECT payment_id, idx, at FROM settlement_results WHERE outcome = 'double-spend' ORDER BY at`)
      .all() as Record<string, unknown>[];
    return {
      unsettled,
      pendingBatches: this.pendingBatches().length,
      outcomes: Object.fromEntries(outcomes.map((o) => [o.outcome, o.n])),
      doubleSpends: ds.map((d) => {
        const row = new StoredRow(d, "the terminal's journal, settlement_results");
        return { paymentId: row.text('payment_id'), index: row.integer('idx', 0), at: row.integer('at') };
      }),
    };
  }
}

const eventRow = (r: Record<string, unknown>) => new StoredRow(r, "the terminal's journal, payment_events");

function rowToPayment(r: Record<string, unknown>): PaymentRecord {
  const row = new StoredRow(r, "the terminal's journal, payments");
  return {
    id: row.text('id'),
    createdAt: row.integer('created_at'),
    amount: row.integer('amount', 1),
    currency: row.text('currency'),
    reference: row.optionalText('reference'),
    merchantId: row.text('merchant_id'),
    terminalId: row.text('terminal_id'),
    mode: row.oneOf('mode', RISK_MODES),
  };
}

function rowToPaymentWithState(r: Record<string, unknown>): PaymentRecord & { state: PaymentState } {
  return { ...rowToPayment(r), state: eventRow(r).oneOf('state', PAYMENT_STATES) };
}

function rowToTranscript(r: Record<string, unknown>): StoredTranscript {
  const row = new StoredRow(r, "the terminal's journal, coin_transcripts");
  return {
    paymentId: row.text('payment_id'),
    index: row.integer('idx', 0),
    keyId: row.blob('key_id'),
    coinA: row.blob('coin_a'),
    value: row.integer('value', 1),
    bytes: row.blob('transcript'),
    evidenceOnly: row.flag('evidence_only'),
  };
}
