/**
 * The bank's store over any SqlDriver: every domain transaction once, in SQL both SQLite and
 * PostgreSQL accept. Balance rows are always locked in the order of their account names (the
 * postings are sorted), spent coins are inserted in the order of their coin ids, and sessions are
 * locked before balances, so concurrent transactions on PostgreSQL never wait on each other in a
 * cycle.
 */
import { bytesEqual, EcashError, isSuiteId, type SuiteId, toHex } from '../../../core/index.js';
import { readAuditFacts } from '../audit.js';
import { CASH_ACCOUNT, FEES_ACCOUNT, holderAccount, outstandingAccount, postEntry } from '../ledger.js';
import type { SqlDriver, SqlTx } from './sql.js';
import type {
  AccountRecord,
  AnswerRequest,
  AuditFacts,
  Balance,
  BankStorage,
  ConflictClass,
  CredentialRecord,
  DepositBatchRecord,
  DepositBatchRequest,
  DepositResult,
  DoubleSpendRecord,
  KeyRecord,
  LedgerEntry,
  LedgerPosting,
  MerchantRecord,
  NewKey,
  NewSession,
  PartyKind,
  StatementQuery,
  VerifiedDeposit,
} from './types.js';

interface KeyRow {
  key_no: number;
  key_id: Uint8Array;
  key_json: string;
  value: number;
  currency: string;
  withdraw_from: number;
  withdraw_until: number;
  deposit_until: number;
  scope: string;
}

const keyFromRow = (r: KeyRow): KeyRecord => ({
  keyNo: r.key_no,
  keyId: r.key_id,
  keyJson: r.key_json,
  value: r.value,
  currency: r.currency,
  withdrawFrom: r.withdraw_from,
  withdrawUntil: r.withdraw_until,
  depositUntil: r.deposit_until,
  scope: r.scope,
});

/** Results are stored compactly (a deposit's storage cost is per coin): 0, 1, [2,id,acct], [3,code,msg]. */
type StoredResult = 0 | 1 | [2, number, string | null] | [3, string, string];

function storeResult(r: DepositResult): StoredResult {
  switch (r.outcome) {
    case 'credited':
      return 0;
    case 'replay':
      return 1;
    case 'double-spend':
      return [2, r.doubleSpendId, r.accountId];
    case 'rejected':
      return [3, r.code, r.message];
  }
}

function loadResult(s: StoredResult): DepositResult {
  if (s === 0) return { outcome: 'credited' };
  if (s === 1) return { outcome: 'replay' };
  if (s[0] === 2) return { outcome: 'double-spend', doubleSpendId: s[1], accountId: s[2] };
  return { outcome: 'rejected', code: s[1], message: s[2] };
}

const refused = (r: { code: string; message: string }): DepositResult => ({ outcome: 'rejected', ...r });

interface SessionRow {
  account_id: string;
  key_no: number;
  state: string;
  c: Uint8Array | null;
  r: Uint8Array | null;
  created_at: number;
  expires_at: number;
  /** The session's key, joined in. */
  key_id: Uint8Array;
  value: number;
  currency: string;
}

type AnswerOutcome = { r: Uint8Array } | { error: EcashError };

export class SqlBankStorage implements BankStorage {
  constructor(private readonly db: SqlDriver) {}

  get kind(): 'sqlite' | 'postgres' {
    return this.db.kind;
  }

  migrate(): Promise<void> {
    return this.db.migrate();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  sizeBytes(): Promise<number> {
    return this.db.sizeBytes();
  }

  async getSuite(): Promise<SuiteId | undefined> {
    const row = await this.db.read((tx) => tx.get<{ value: string }>("SELECT value FROM meta WHERE name = 'suite'"));
    if (row === undefined) return undefined;
    if (!isSuiteId(row.value)) throw new EcashError('bad-database', `the database names an unknown suite "${row.value}"`);
    return row.value;
  }

  async initSuite(suite: SuiteId): Promise<SuiteId> {
    await this.db.transaction((tx) => tx.run("INSERT INTO meta (name, value) VALUES ('suite', ?) ON CONFLICT (name) DO NOTHING", [suite]));
    const stored = (await this.getSuite())!;
    if (stored !== suite) {
      throw new EcashError('wrong-suite', `this database belongs to a bank of suite ${stored}, not ${suite}; use the key file it was initialised with`);
    }
    return stored;
  }

  async registerKey(key: NewKey): Promise<KeyRecord> {
    return this.db.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO denomination_keys (key_id, key_json, value, currency, withdraw_from, withdraw_until, deposit_until, scope) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING',
        [key.keyId, key.keyJson, key.value, key.currency, key.withdrawFrom, key.withdrawUntil, key.depositUntil, key.scope],
      );
      const row = await tx.get<KeyRow>('SELECT * FROM denomination_keys WHERE key_id = ?', [key.keyId]);
      return keyFromRow(row!);
    });
  }

  async listKeys(): Promise<KeyRecord[]> {
    const rows = await this.db.read((tx) => tx.all<KeyRow>('SELECT * FROM denomination_keys ORDER BY key_no'));
    return rows.map(keyFromRow);
  }

  async createAccount(a: AccountRecord): Promise<void> {
    try {
      await this.db.transaction((tx) =>
        tx.run('INSERT INTO accounts (account_id, holder, i, created_at) VALUES (?, ?, ?, ?)', [a.accountId, a.holder, a.I, a.createdAt]),
      );
    } catch (e) {
      if (this.db.isUniqueViolation(e)) throw new EcashError('account-exists', 'an account with this I is already registered; a card opens one account');
      throw e;
    }
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const row = await this.db.read((tx) =>
      tx.get<{ account_id: string; holder: string; i: Uint8Array; created_at: number }>('SELECT * FROM accounts WHERE account_id = ?', [accountId]),
    );
    return row && { accountId: row.account_id, holder: row.holder, I: row.i, createdAt: row.created_at };
  }

  async createMerchant(m: MerchantRecord): Promise<void> {
    try {
      await this.db.transaction((tx) =>
        tx.run('INSERT INTO merchants (merchant_id, name, scopes, fee_per_coin, created_at) VALUES (?, ?, ?, ?, ?)', [
          m.merchantId,
          m.name,
          JSON.stringify(m.scopes),
          m.feePerCoin,
          m.createdAt,
        ]),
      );
    } catch (e) {
      if (this.db.isUniqueViolation(e)) throw new EcashError('merchant-exists', `merchant ${m.merchantId} already exists`);
      throw e;
    }
  }

  async getMerchant(merchantId: string): Promise<MerchantRecord | undefined> {
    const row = await this.db.read((tx) =>
      tx.get<{ merchant_id: string; name: string; scopes: string; fee_per_coin: number; created_at: number }>('SELECT * FROM merchants WHERE merchant_id = ?', [
        merchantId,
      ]),
    );
    return row && { merchantId: row.merchant_id, name: row.name, scopes: JSON.parse(row.scopes) as string[], feePerCoin: row.fee_per_coin, createdAt: row.created_at };
  }

  async addCredential(c: CredentialRecord): Promise<void> {
    await this.db.transaction((tx) =>
      tx.run('INSERT INTO credentials (credential_id, kind, party_id, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)', [
        c.credentialId,
        c.kind,
        c.partyId,
        c.secretHash,
        c.createdAt,
        c.revokedAt,
      ]),
    );
  }

  async getCredential(credentialId: string): Promise<CredentialRecord | undefined> {
    const row = await this.db.read((tx) =>
      tx.get<{ credential_id: string; kind: PartyKind; party_id: string; secret_hash: Uint8Array; created_at: number; revoked_at: number | null }>(
        'SELECT * FROM credentials WHERE credential_id = ?',
        [credentialId],
      ),
    );
    return row && { credentialId: row.credential_id, kind: row.kind, partyId: row.party_id, secretHash: row.secret_hash, createdAt: row.created_at, revokedAt: row.revoked_at };
  }

  async revokeCredential(credentialId: string, now: number): Promise<CredentialRecord | undefined> {
    await this.db.transaction((tx) => tx.run('UPDATE credentials SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL', [now, credentialId]));
    return this.getCredential(credentialId);
  }

  async cashIn(accountId: string, currency: string, amount: number, reference: string, now: number): Promise<number> {
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new EcashError('bad-amount', 'a cash-in amount must be a positive integer of minor units');
    return this.db.transaction(async (tx) => {
      const exists = await tx.get('SELECT 1 AS one FROM accounts WHERE account_id = ?', [accountId]);
      if (exists === undefined) throw new EcashError('account-not-found', `no account ${accountId}`);
      return postEntry(
        tx,
        'cash-in',
        reference,
        [
          { account: CASH_ACCOUNT, currency, amount: -amount },
          { account: holderAccount(accountId), currency, amount },
        ],
        now,
      );
    });
  }

  async balances(account: string): Promise<Balance[]> {
    return this.db.read((tx) =>
      tx.all<Balance>('SELECT currency, balance FROM ledger_balances WHERE account = ? ORDER BY currency', [account]),
    );
  }

  async statement(q: StatementQuery): Promise<LedgerEntry[]> {
    return this.db.read(async (tx) => {
      const params: (string | number)[] = [q.account];
      let where = 'p.account = ?';
      if (q.before !== undefined) {
        where += ' AND p.entry_id < ?';
        params.push(q.before);
      }
      params.push(q.limit);
      const entries = await tx.all<{ entry_id: number; kind: LedgerEntry['kind']; reference: string; created_at: number }>(
        `SELECT DISTINCT e.entry_id, e.kind, e.reference, e.created_at FROM ledger_postings p JOIN ledger_entries e ON e.entry_id = p.entry_id
         WHERE ${where} ORDER BY e.entry_id DESC LIMIT ?`,
        params,
      );
      const out: LedgerEntry[] = [];
      for (const e of entries) {
        const postings = await tx.all<LedgerPosting>('SELECT account, currency, amount FROM ledger_postings WHERE entry_id = ? ORDER BY account, currency', [e.entry_id]);
        out.push({ entryId: e.entry_id, kind: e.kind, reference: e.reference, createdAt: e.created_at, postings });
      }
      return out;
    });
  }

  async openSession(s: NewSession): Promise<void> {
    const insert = (tx: SqlTx) =>
      tx.run(
        "INSERT INTO withdrawal_sessions (session_id, account_id, key_no, state, a, b, created_at, expires_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?) " +
          "ON CONFLICT (account_id) WHERE state = 'open' DO NOTHING",
        [s.sessionId, s.accountId, s.keyNo, s.a, s.b, s.createdAt, s.expiresAt],
      );
    await this.db.transaction(async (tx) => {
      const funds = await tx.get<{ value: number; currency: string; balance: number | null }>(
        'SELECT k.value, k.currency, b.balance FROM denomination_keys k LEFT JOIN ledger_balances b ON b.account = ? AND b.currency = k.currency WHERE k.key_no = ?',
        [holderAccount(s.accountId), s.keyNo],
      );
      if ((funds?.balance ?? 0) < funds!.value) {
        throw new EcashError('insufficient-funds', `the account's ${funds!.currency} balance is below the coin's value ${funds!.value}; top it up first`);
      }
      if ((await insert(tx)) === 1) return;
      // The account has an open session: if it is stale, expire it and open this one.
      const expired = await tx.run("UPDATE withdrawal_sessions SET state = 'expired' WHERE account_id = ? AND state = 'open' AND expires_at <= ?", [s.accountId, s.createdAt]);
      if (expired === 0 || (await insert(tx)) !== 1) {
        throw new EcashError('session-open', 'this account already has an open withdrawal session; answer or cancel it, or wait until it expires');
      }
    });
  }

  async answerSession(q: AnswerRequest): Promise<Uint8Array> {
    // Expiry is committed before the error is raised, so the outcome is returned, not thrown.
    const outcome = await this.db.transaction(async (tx): Promise<AnswerOutcome> => {
      const s = await tx.get<SessionRow>(
        'SELECT s.account_id, s.key_no, s.state, s.c, s.r, s.created_at, s.expires_at, k.key_id, k.value, k.currency FROM withdrawal_sessions s ' +
          `JOIN denomination_keys k ON k.key_no = s.key_no WHERE s.session_id = ?${this.db.forUpdate('s')}`,
        [q.sessionId],
      );
      if (s === undefined || s.account_id !== q.accountId) {
        return { error: new EcashError('session-not-found', 'no withdrawal session with this id for this account') };
      }
      if (s.state === 'answered') {
        if (s.c !== null && s.r !== null && bytesEqual(s.c, q.c)) return { r: s.r };
        return { error: new EcashError('session-answered', 'this withdrawal session has already answered another challenge; start a new session for another coin') };
      }
      if (s.state === 'cancelled') return { error: new EcashError('session-cancelled', 'this withdrawal session was cancelled; start a new one') };
      if (s.state === 'expired' || s.expires_at <= q.now) {
        await tx.run("UPDATE withdrawal_sessions SET state = 'expired' WHERE session_id = ? AND state = 'open'", [q.sessionId]);
        return { error: new EcashError('session-expired', 'this withdrawal session expired before it was answered; start a new one') };
      }
      const holder = holderAccount(q.accountId);
      const bal = await tx.get<{ balance: number }>(`SELECT balance FROM ledger_balances WHERE account = ? AND currency = ?${this.db.forUpdate()}`, [holder, s.currency]);
      if ((bal?.balance ?? 0) < s.value) {
        return { error: new EcashError('insufficient-funds', `the account's ${s.currency} balance is below the coin's value ${s.value}; top it up first`) };
      }
      const r = q.answer({ keyNo: s.key_no, createdAt: s.created_at, expiresAt: s.expires_at });
      const changed = await tx.run(
        "UPDATE withdrawal_sessions SET state = 'answered', c = ?, r = ?, answered_at = ? WHERE session_id = ? AND state = 'open'",
        [q.c, r, q.now, q.sessionId],
      );
      if (changed !== 1) throw new EcashError('session-answered', 'this withdrawal session has already answered');
      await postEntry(
        tx,
        'withdrawal',
        `withdrawal:${q.sessionId}`,
        [
          { account: holder, currency: s.currency, amount: -s.value },
          { account: outstandingAccount(s.key_id), currency: s.currency, amount: s.value },
        ],
        q.now,
      );
      return { r };
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.r;
  }

  async cancelSession(sessionId: string, accountId: string, now: number): Promise<boolean> {
    const n = await this.db.transaction((tx) =>
      tx.run("UPDATE withdrawal_sessions SET state = 'cancelled', answered_at = ? WHERE session_id = ? AND account_id = ? AND state = 'open'", [
        now,
        sessionId,
        accountId,
      ]),
    );
    return n === 1;
  }

  async expireSessions(now: number): Promise<number> {
    return this.db.transaction((tx) => tx.run("UPDATE withdrawal_sessions SET state = 'expired' WHERE state = 'open' AND expires_at <= ?", [now]));
  }

  async getDepositBatch(depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined> {
    return this.db.read((tx) => this.readBatch(tx, depositor, batchId));
  }

  private async readBatch(tx: SqlTx, depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined> {
    const row = await tx.get<{ request_hash: Uint8Array; results: string; created_at: number }>(
      'SELECT request_hash, results, created_at FROM deposit_batches WHERE depositor = ? AND batch_id = ?',
      [depositor, batchId],
    );
    if (row === undefined) return undefined;
    const stored = JSON.parse(row.results) as { r: StoredResult[]; c: Balance[] };
    return { depositor, batchId, createdAt: row.created_at, requestHash: row.request_hash, results: stored.r.map(loadResult), credited: stored.c };
  }

  async depositBatch(q: DepositBatchRequest): Promise<DepositBatchRecord> {
    return this.db.transaction(async (tx) => {
      const claimed = await tx.run(
        "INSERT INTO deposit_batches (depositor, batch_id, request_hash, results, created_at) VALUES (?, ?, ?, '', ?) ON CONFLICT (depositor, batch_id) DO NOTHING",
        [q.depositor, q.batchId, q.requestHash, q.now],
      );
      if (claimed === 0) {
        // Deposited before (or just now by a concurrent request, which we waited for).
        const prior = (await this.readBatch(tx, q.depositor, q.batchId))!;
        if (!bytesEqual(prior.requestHash, q.requestHash)) {
          throw new EcashError('batch-id-reused', `batch ${q.batchId} was already deposited with other transcripts; use a new batch id for a new batch`);
        }
        return { depositor: prior.depositor, batchId: prior.batchId, createdAt: prior.createdAt, results: prior.results, credited: prior.credited };
      }
      const results = [...q.prechecked];
      // The first transcript of each coin in the batch goes in one insert, in the order of coin ids.
      const firstOfCoin = new Map<string, VerifiedDeposit>();
      for (const v of q.verified) {
        const k = toHex(v.coin);
        if (!firstOfCoin.has(k)) firstOfCoin.set(k, v);
      }
      const firsts = [...firstOfCoin.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
      const inserted = await this.db.insertSpentCoins(
        tx,
        firsts.map((v) => ({ coin: v.coin, keyNo: v.keyNo, credited: v.refusal === undefined, transcript: v.transcript })),
      );
      firsts.forEach((v, i) => {
        if (inserted[i]) results[v.index] = v.refusal === undefined ? { outcome: 'credited' } : refused(v.refusal);
      });
      for (const v of q.verified) {
        if (results[v.index] === undefined) results[v.index] = await this.settleConflict(tx, q, v);
      }
      const postings: LedgerPosting[] = [];
      const creditedTotals = new Map<string, number>();
      for (const v of q.verified.filter((c) => results[c.index]?.outcome === 'credited')) {
        const fee = Math.min(q.feePerCoin, v.value);
        postings.push(
          { account: outstandingAccount(v.keyId), currency: v.currency, amount: -v.value },
          { account: q.creditAccount, currency: v.currency, amount: v.value - fee },
          { account: FEES_ACCOUNT, currency: v.currency, amount: fee },
        );
        creditedTotals.set(v.currency, (creditedTotals.get(v.currency) ?? 0) + v.value - fee);
      }
      if (postings.length > 0) await postEntry(tx, 'deposit', `deposit:${q.depositor}:${q.batchId}`, postings, q.now);
      const final = results.map((r, i) => {
        if (r === undefined) throw new EcashError('internal', `deposit result ${i} was not decided`);
        return r;
      });
      const creditedList = [...creditedTotals.entries()].sort().map(([currency, balance]) => ({ currency, balance }));
      await tx.run('UPDATE deposit_batches SET results = ? WHERE depositor = ? AND batch_id = ?', [
        JSON.stringify({ r: final.map(storeResult), c: creditedList }),
        q.depositor,
        q.batchId,
      ]);
      return { depositor: q.depositor, batchId: q.batchId, createdAt: q.now, results: final, credited: creditedList };
    });
  }

  /** A transcript for an already spent coin: a replay, or a double spend to record. */
  private async settleConflict(tx: SqlTx, q: DepositBatchRequest, v: VerifiedDeposit): Promise<DepositResult> {
    // Locking the coin's row serialises the settling of its conflicts: two deposits of the same
    // second transcript at once would otherwise both find no record and both insert one.
    const first = await tx.get<{ transcript: Uint8Array; credited: boolean | number }>(
      `SELECT transcript, credited FROM spent_coins WHERE coin = ?${this.db.forUpdate()}`,
      [v.coin],
    );
    if (first === undefined) throw new EcashError('internal', 'a spent coin vanished during a deposit');
    const later = await tx.all<{ double_spend_id: number; transcript: Uint8Array; account_id: string | null }>(
      'SELECT double_spend_id, transcript, account_id FROM double_spends WHERE coin = ? ORDER BY double_spend_id',
      [v.coin],
    );
    const replay = async (): Promise<DepositResult> => {
      if (first.credited) return { outcome: 'replay' };
      if (v.refusal !== undefined) return refused(v.refusal);
      // The payment the bank recorded when it refused it, from its payee, who the bank now
      // credits (a deposit window that has opened, a scope the merchant was given).
      await tx.run('UPDATE spent_coins SET credited = TRUE WHERE coin = ?', [v.coin]);
      return { outcome: 'credited' };
    };
    if (bytesEqual(first.transcript, v.transcript)) return replay();
    const same = later.find((l) => bytesEqual(l.transcript, v.transcript));
    if (same !== undefined) return { outcome: 'double-spend', doubleSpendId: same.double_spend_id, accountId: same.account_id };
    let cls: ConflictClass;
    try {
      cls = q.classify(v, first.transcript);
    } catch {
      // Only a stored transcript that is not what the bank wrote (or a bug) gets here: valid
      // transcripts of one coin are a replay or identify their spender. This transcript is
      // refused alone and not stored, so it can be deposited again once the record is repaired.
      return {
        outcome: 'rejected',
        code: 'conflict-unresolved',
        message: "this coin's earlier deposit could not be compared with this payment; nothing was credited; keep the transcript and tell the bank's operator",
      };
    }
    if (cls.kind === 'replay') return replay();
    const account = await tx.get<{ account_id: string }>('SELECT account_id FROM accounts WHERE i = ?', [cls.I]);
    const row = await tx.get<{ double_spend_id: number }>(
      'INSERT INTO double_spends (key_no, coin, transcript, u1, i, account_id, depositor, batch_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING double_spend_id',
      [v.keyNo, v.coin, v.transcript, cls.u1, cls.I, account?.account_id ?? null, q.depositor, q.batchId, q.now],
    );
    return { outcome: 'double-spend', doubleSpendId: row!.double_spend_id, accountId: account?.account_id ?? null };
  }

  async listDoubleSpends(query: { depositor?: string; after?: number; limit: number }): Promise<DoubleSpendRecord[]> {
    const params: (string | number)[] = [query.after ?? 0];
    let where = 'd.double_spend_id > ?';
    if (query.depositor !== undefined) {
      where += ' AND d.depositor = ?';
      params.push(query.depositor);
    }
    params.push(query.limit);
    const rows = await this.db.read((tx) =>
      tx.all<{
        double_spend_id: number;
        key_no: number;
        coin: Uint8Array;
        first: Uint8Array;
        transcript: Uint8Array;
        u1: Uint8Array;
        i: Uint8Array;
        account_id: string | null;
        depositor: string;
        batch_id: string;
        created_at: number;
      }>(
        `SELECT d.double_spend_id, d.key_no, d.coin, s.transcript AS first, d.transcript, d.u1, d.i, d.account_id, d.depositor, d.batch_id, d.created_at
         FROM double_spends d JOIN spent_coins s ON s.coin = d.coin WHERE ${where} ORDER BY d.double_spend_id LIMIT ?`,
        params,
      ),
    );
    return rows.map((r) => ({
      doubleSpendId: r.double_spend_id,
      keyNo: r.key_no,
      coin: r.coin,
      first: r.first,
      second: r.transcript,
      u1: r.u1,
      I: r.i,
      accountId: r.account_id,
      depositor: r.depositor,
      batchId: r.batch_id,
      createdAt: r.created_at,
    }));
  }

  audit(): Promise<AuditFacts> {
    return this.db.read(readAuditFacts);
  }
}
