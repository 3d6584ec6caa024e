/**
 * The load terminal's journal (SQLite, WAL, synchronous=FULL): one row per withdrawal session and
 * one inserted row per step, so an interrupted load says exactly where each coin stands. A session
 * the bank answered but the card did not store is found here by the card's pending challenge, and
 * finished by delivering the recorded r.
 */
import Database from 'better-sqlite3';
import { EcashError, JOURNAL_CORRUPT, StoredRow } from '../../core/index.js';

const SESSION_STEPS = ['started', 'challenged', 'answered', 'stored', 'abandoned', 'failed'] as const;
export type SessionStep = (typeof SESSION_STEPS)[number];

export interface LoadSession {
  sessionId: string;
  account: string;
  keyId: string;
  value: number;
  currency: string;
  step: SessionStep;
  /** The card's blinded challenge (hex), once known. */
  c: string | null;
  /** The bank's answer (hex), once known. Not secret: it only completes the card's coin. */
  r: string | null;
  detail: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  key_id TEXT NOT NULL,
  value INTEGER NOT NULL,
  currency TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS session_steps (
  session_id TEXT NOT NULL REFERENCES sessions (session_id),
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  step TEXT NOT NULL,
  c TEXT,
  r TEXT,
  detail TEXT,
  PRIMARY KEY (session_id, seq)
);
CREATE INDEX IF NOT EXISTS session_steps_c ON session_steps (c);
`;

export class LoadJournal {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  begin(s: { sessionId: string; account: string; keyId: string; value: number; currency: string }, now = Date.now()): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO sessions (session_id, account, key_id, value, currency, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(s.sessionId, s.account, s.keyId, s.value, s.currency, now);
      this.insertStep(s.sessionId, 'started', {}, now);
    })();
  }

  step(sessionId: string, step: SessionStep, facts: { c?: string; r?: string; detail?: string } = {}, now = Date.now()): void {
    this.insertStep(sessionId, step, facts, now);
  }

  private insertStep(sessionId: string, step: SessionStep, facts: { c?: string; r?: string; detail?: string }, now: number): void {
    const row = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM session_steps WHERE session_id = ?').get(sessionId) as {
      n: number;
    };
    this.db
      .prepare('INSERT INTO session_steps (session_id, seq, at, step, c, r, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(sessionId, row.n + 1, now, step, facts.c ?? null, facts.r ?? null, facts.detail ?? null);
  }

  session(sessionId: string): LoadSession {
    const s = this.db.prepare('SELECT * FROM sessions WHERE session_id = ?').get(sessionId) as Record<string, unknown> | undefined;
    if (s === undefined) throw new EcashError('session-not-found', `no withdrawal session ${sessionId} in this load journal`);
    const session = new StoredRow(s, "the load journal's sessions");
    const steps = (
      this.db.prepare('SELECT step, c, r, detail FROM session_steps WHERE session_id = ? ORDER BY seq').all(sessionId) as Record<
        string,
        unknown
      >[]
    ).map((r) => {
      const row = new StoredRow(r, "the load journal's session_steps");
      return {
        step: row.oneOf('step', SESSION_STEPS),
        c: row.optionalText('c'),
        r: row.optionalText('r'),
        detail: row.optionalText('detail'),
      };
    });
    const last = steps[steps.length - 1];
    if (last === undefined)
      throw new EcashError(
        JOURNAL_CORRUPT,
        `the load journal is damaged: session ${sessionId} has no steps; restore the file from a backup`,
      );
    return {
      sessionId,
      account: session.text('account'),
      keyId: session.text('key_id'),
      value: session.integer('value', 1),
      currency: session.text('currency'),
      step: last.step,
      c:
        steps
          .map((x) => x.c)
          .filter((x) => x !== null)
          .pop() ?? null,
      r:
        steps
          .map((x) => x.r)
          .filter((x) => x !== null)
          .pop() ?? null,
      detail: last.detail,
    };
  }

  /** The session whose blinded challenge the card holds pending, if this journal knows it. */
  sessionByChallenge(c: string): LoadSession | undefined {
    const row = this.db.prepare('SELECT session_id FROM session_steps WHERE c = ? ORDER BY at DESC LIMIT 1').get(c) as
      | Record<string, unknown>
      | undefined;
    return row === undefined ? undefined : this.session(new StoredRow(row, "the load journal's session_steps").text('session_id'));
  }

  /** Sessions that neither stored a coin nor were closed: the load was interrupted there. */
  unfinished(): LoadSession[] {
    const ids = this.db
      .prepare(
        `SELECT s.session_id FROM sessions s WHERE (
           SELECT step FROM session_steps t WHERE t.session_id = s.session_id ORDER BY seq DESC LIMIT 1
         ) NOT IN ('stored', 'abandoned', 'failed') ORDER BY s.created_at`,
      )
      .all() as Record<string, unknown>[];
    return ids.map((r) => this.session(new StoredRow(r, "the load journal's sessions").text('session_id')));
  }
}
