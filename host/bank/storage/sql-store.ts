/**
 * The bank's store over any SqlDriver, in SQL both SQLite and PostgreSQL accept: its reads and
 * single writes, and the rows a transaction of the service reads, locks and writes
 * (BankTransaction). It decides nothing about money: the service does (service.ts,
 * deposit-booking.ts, ledger.ts).
 */
import { EcashError, isSuiteId, type SuiteId } from '../../../core/index.js';
import { readAuditFacts } from '../audit.js';
import { postEntry } from '../ledger.js';
import type { SpentCoinRow, SqlDriver, SqlTx } from './sql.js';
import type {
  AccountRecord,
  AuditFacts,
  Balance,
  BankStorage,
  BankTransaction,
  CredentialRecord,
  DepositBatchRecord,
  DepositResult,
  DoubleSpendRecord,
  KeyRecord,
  LedgerEntry,
  LedgerPosting,
  MerchantRecord,
  NewDoubleSpend,
  NewKey,
  NewSession,
  PartyKind,
  SessionRecord,
  OneStatementSteps,
  SessionState,
  SharedBankState,
  SpentCoin,
  StatementQuery,
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

export interface SessionRow {
  account_id: string;
  key_no: number;
  state: SessionState;
  c: Uint8Array | null;
  r: Uint8Array | null;
  created_at: number;
  expires_at: number;
  /** The session's key, joined in. */
  key_id: Uint8Array;
  value: number;
  currency: string;
}

export const sessionOf = (sessionId: string, s: SessionRow): SessionRecord => ({
  sessionId,
  accountId: s.account_id,
  keyNo: s.key_no,
  state: s.state,
  c: s.c,
  r: s.r,
  createdAt: s.created_at,
  expiresAt: s.expires_at,
  keyId: s.key_id,
  value: s.value,
  currency: s.currency,
});

async function readBatch(
  tx: SqlTx,
  depositor: string,
  batchId: string,
): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined> {
  const row = await tx.get<{ request_hash: Uint8Array; results: string; created_at: number }>(
    'SELECT request_hash, results, created_at FROM deposit_batches WHERE depositor = ? AND batch_id = ?',
    [depositor, batchId],
  );
  return row && { ...batchOf(depositor, batchId, row), requestHash: row.request_hash };
}

/** A list's page: rows past `cursor` (by `past`), of one depositor if the query names one, `limit` of them. */
function pageWhere(
  past: string,
  cursor: number,
  query: { depositor?: string; limit: number },
): { where: string; params: (string | number)[] } {
  return query.depositor === undefined
    ? { where: past, params: [cursor, query.limit] }
    : { where: `${past} AND depositor = ?`, params: [cursor, query.depositor, query.limit] };
}

function batchOf(depositor: string, batchId: string, row: { results: string; created_at: number }): DepositBatchRecord {
  const stored = JSON.parse(row.results) as { r: StoredResult[]; c: Balance[] };
  return { depositor, batchId, createdAt: row.created_at, results: stored.r.map(loadResult), credited: stored.c };
}

/** The rows one of the service's transactions reads, locks and writes (see BankTransaction). */
class SqlBankTransaction implements BankTransaction {
  constructor(
    private readonly db: SqlDriver,
    private readonly tx: SqlTx,
  ) {}

  async accountExists(accountId: string): Promise<boolean> {
    return (await this.tx.get('SELECT 1 AS one FROM accounts WHERE account_id = ?', [accountId])) !== undefined;
  }

  async accountWithI(I: Uint8Array): Promise<string | undefined> {
    return (await this.tx.get<{ account_id: string }>('SELECT account_id FROM accounts WHERE i = ?', [I]))?.account_id;
  }

  async balance(account: string, currency: string, lock = false): Promise<number> {
    const row = await this.tx.get<{ balance: number }>(
      `SELECT balance FROM ledger_balances WHERE account = ? AND currency = ?${lock ? this.db.forUpdate() : ''}`,
      [account, currency],
    );
    return row?.balance ?? 0;
  }

  post(kind: LedgerEntry['kind'], reference: string, postings: readonly LedgerPosting[], now: number): Promise<number> {
    return (this.db.postEntry ?? postEntry)(this.tx, kind, reference, postings, now);
  }

  async insertOpenSession(s: NewSession): Promise<boolean> {
    const inserted = await this.tx.run(
      "INSERT INTO withdrawal_sessions (session_id, account_id, key_no, state, a, b, created_at, expires_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?) " +
        "ON CONFLICT (account_id) WHERE state = 'open' DO NOTHING",
      [s.sessionId, s.accountId, s.keyNo, s.a, s.b, s.createdAt, s.expiresAt],
    );
    return inserted === 1;
  }

  async expireStaleSession(accountId: string, now: number): Promise<boolean> {
    return (
      (await this.tx.run("UPDATE withdrawal_sessions SET state = 'expired' WHERE account_id = ? AND state = 'open' AND expires_at <= ?", [
        accountId,
        now,
      ])) > 0
    );
  }

  async lockSession(sessionId: string): Promise<SessionRecord | undefined> {
    const s = await this.tx.get<SessionRow>(
      'SELECT s.account_id, s.key_no, s.state, s.c, s.r, s.created_at, s.expires_at, k.key_id, k.value, k.currency FROM withdrawal_sessions s ' +
        `JOIN denomination_keys k ON k.key_no = s.key_no WHERE s.session_id = ?${this.db.forUpdate('s')}`,
      [sessionId],
    );
    return s && sessionOf(sessionId, s);
  }

  async expireSession(sessionId: string): Promise<void> {
    await this.tx.run("UPDATE withdrawal_sessions SET state = 'expired' WHERE session_id = ? AND state = 'open'", [sessionId]);
  }

  async answerSession(sessionId: string, c: Uint8Array, r: Uint8Array, now: number): Promise<boolean> {
    const changed = await this.tx.run(
      "UPDATE withdrawal_sessions SET state = 'answered', c = ?, r = ?, answered_at = ? WHERE session_id = ? AND state = 'open'",
      [c, r, now, sessionId],
    );
    return changed === 1;
  }

  async claimBatch(depositor: string, batchId: string, requestHash: Uint8Array, now: number): Promise<boolean> {
    const claimed = await this.tx.run(
      "INSERT INTO deposit_batches (depositor, batch_id, request_hash, results, created_at) VALUES (?, ?, ?, '', ?) ON CONFLICT (depositor, batch_id) DO NOTHING",
      [depositor, batchId, requestHash, now],
    );
    return claimed === 1;
  }

  readBatch(depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined> {
    return readBatch(this.tx, depositor, batchId);
  }

  async saveBatchResults(
    depositor: string,
    batchId: string,
    results: readonly DepositResult[],
    credited: readonly Balance[],
  ): Promise<void> {
    await this.tx.run('UPDATE deposit_batches SET results = ? WHERE depositor = ? AND batch_id = ?', [
      JSON.stringify({ r: results.map(storeResult), c: credited }),
      depositor,
      batchId,
    ]);
  }

  insertSpentCoins(rows: readonly SpentCoinRow[]): Promise<boolean[]> {
    return this.db.insertSpentCoins(this.tx, rows);
  }

  async lockSpentCoin(coin: Uint8Array): Promise<SpentCoin | undefined> {
    const row = await this.tx.get<{ transcript: Uint8Array; credited: boolean | number }>(
      `SELECT transcript, credited FROM spent_coins WHERE coin = ?${this.db.forUpdate()}`,
      [coin],
    );
    return row && { transcript: row.transcript, credited: Boolean(row.credited) };
  }

  async creditSpentCoin(coin: Uint8Array): Promise<void> {
    await this.tx.run('UPDATE spent_coins SET credited = TRUE WHERE coin = ?', [coin]);
  }

  async doubleSpendsOf(coin: Uint8Array): Promise<{ doubleSpendId: number; transcript: Uint8Array; accountId: string | null }[]> {
    const rows = await this.tx.all<{ double_spend_id: number; transcript: Uint8Array; account_id: string | null }>(
      'SELECT double_spend_id, transcript, account_id FROM double_spends WHERE coin = ? ORDER BY double_spend_id',
      [coin],
    );
    return rows.map((r) => ({ doubleSpendId: r.double_spend_id, transcript: r.transcript, accountId: r.account_id }));
  }

  async recordDoubleSpend(d: NewDoubleSpend): Promise<number> {
    const row = await this.tx.get<{ double_spend_id: number }>(
      'INSERT INTO double_spends (key_no, coin, transcript, u1, i, account_id, depositor, batch_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING double_spend_id',
      [d.keyNo, d.coin, d.transcript, d.u1, d.I, d.accountId, d.depositor, d.batchId, d.createdAt],
    );
    return row!.double_spend_id;
  }
}

interface AccountRow {
  account_id: string;
  holder: string;
  i: Uint8Array;
  created_at: number;
}
const accountOf = (row: AccountRow): AccountRecord => ({
  accountId: row.account_id,
  holder: row.holder,
  I: row.i,
  createdAt: row.created_at,
});

interface MerchantRow {
  merchant_id: string;
  name: string;
  scopes: string;
  fee_per_coin: number;
  created_at: number;
}
const merchantOf = (row: MerchantRow): MerchantRecord => ({
  merchantId: row.merchant_id,
  name: row.name,
  scopes: JSON.parse(row.scopes) as string[],
  feePerCoin: row.fee_per_coin,
  createdAt: row.created_at,
});

export class SqlBankStorage implements BankStorage {
  /** Single statements: without a driver's own, each in a read of its own. */
  private readonly one: SqlTx;

  constructor(private readonly db: SqlDriver) {
    this.one = db.single ?? {
      all: (sql, params) => db.read((tx) => tx.all(sql, params)),
      get: (sql, params) => db.read((tx) => tx.get(sql, params)),
      run: (sql, params) => db.read((tx) => tx.run(sql, params)),
    };
  }

  get oneStatement(): OneStatementSteps | undefined {
    return this.db.oneStatement;
  }

  get kind(): 'sqlite' | 'postgres' {
    return this.db.kind;
  }

  get shared(): SharedBankState | undefined {
    return this.db.shared;
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
    const row = await this.one.get<{ value: string }>("SELECT value FROM meta WHERE name = 'suite'");
    if (row === undefined) return undefined;
    if (!isSuiteId(row.value)) throw new EcashError('bad-database', `the database names an unknown suite "${row.value}"`);
    return row.value;
  }

  async initSuite(suite: SuiteId): Promise<SuiteId> {
    await this.db.transaction((tx) => tx.run("INSERT INTO meta (name, value) VALUES ('suite', ?) ON CONFLICT (name) DO NOTHING", [suite]));
    const stored = (await this.getSuite())!;
    if (stored !== suite) {
      throw new EcashError(
        'wrong-suite',
        `this database belongs to a bank of suite ${stored}, not ${suite}; use the key file it was initialised with`,
      );
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
    const rows = await this.one.all<KeyRow>('SELECT * FROM denomination_keys ORDER BY key_no');
    return rows.map(keyFromRow);
  }

  async createAccount(a: AccountRecord): Promise<void> {
    try {
      await this.db.transaction((tx) =>
        tx.run('INSERT INTO accounts (account_id, holder, i, created_at) VALUES (?, ?, ?, ?)', [a.accountId, a.holder, a.I, a.createdAt]),
      );
    } catch (e) {
      if (this.db.isUniqueViolation(e))
        throw new EcashError('account-exists', 'an account with this I is already registered; a card opens one account');
      throw e;
    }
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const row = await this.one.get<AccountRow>('SELECT * FROM accounts WHERE account_id = ?', [accountId]);
    return row && accountOf(row);
  }

  async listAccounts(q: { after?: string; limit: number }): Promise<AccountRecord[]> {
    const rows = await this.one.all<AccountRow>('SELECT * FROM accounts WHERE account_id > ? ORDER BY account_id LIMIT ?', [
      q.after ?? '',
      q.limit,
    ]);
    return rows.map(accountOf);
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
    const row = await this.one.get<MerchantRow>('SELECT * FROM merchants WHERE merchant_id = ?', [merchantId]);
    return row && merchantOf(row);
  }

  async listMerchants(q: { after?: string; limit: number }): Promise<MerchantRecord[]> {
    const rows = await this.one.all<MerchantRow>('SELECT * FROM merchants WHERE merchant_id > ? ORDER BY merchant_id LIMIT ?', [
      q.after ?? '',
      q.limit,
    ]);
    return rows.map(merchantOf);
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
    const row = await this.one.get<{
      credential_id: string;
      kind: PartyKind;
      party_id: string;
      secret_hash: Uint8Array;
      created_at: number;
      revoked_at: number | null;
    }>('SELECT * FROM credentials WHERE credential_id = ?', [credentialId]);
    return (
      row && {
        credentialId: row.credential_id,
        kind: row.kind,
        partyId: row.party_id,
        secretHash: row.secret_hash,
        createdAt: row.created_at,
        revokedAt: row.revoked_at,
      }
    );
  }

  async revokeCredential(credentialId: string, now: number): Promise<CredentialRecord | undefined> {
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE credentials SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL', [now, credentialId]);
      await this.db.announceRevocation?.(tx, credentialId);
    });
    return this.getCredential(credentialId);
  }

  async balances(account: string): Promise<Balance[]> {
    return this.one.all<Balance>('SELECT currency, balance FROM ledger_balances WHERE account = ? ORDER BY currency', [account]);
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
        const postings = await tx.all<LedgerPosting>(
          'SELECT account, currency, amount FROM ledger_postings WHERE entry_id = ? ORDER BY account, currency',
          [e.entry_id],
        );
        out.push({ entryId: e.entry_id, kind: e.kind, reference: e.reference, createdAt: e.created_at, postings });
      }
      return out;
    });
  }

  async cancelSession(sessionId: string, accountId: string, now: number): Promise<boolean> {
    const n = await this.db.transaction((tx) =>
      tx.run(
        "UPDATE withdrawal_sessions SET state = 'cancelled', answered_at = ? WHERE session_id = ? AND account_id = ? AND state = 'open'",
        [now, sessionId, accountId],
      ),
    );
    return n === 1;
  }

  async expireSessions(now: number): Promise<number> {
    return this.db.transaction((tx) =>
      tx.run("UPDATE withdrawal_sessions SET state = 'expired' WHERE state = 'open' AND expires_at <= ?", [now]),
    );
  }

  async getDepositBatch(depositor: string, batchId: string): Promise<(DepositBatchRecord & { requestHash: Uint8Array }) | undefined> {
    return readBatch(this.one, depositor, batchId);
  }

  transaction<T>(fn: (tx: BankTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new SqlBankTransaction(this.db, tx)));
  }

  async listDoubleSpends(query: { depositor?: string; after?: number; limit: number }): Promise<DoubleSpendRecord[]> {
    const { where, params } = pageWhere('d.double_spend_id > ?', query.after ?? 0, query);
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

  async listDepositBatches(query: {
    depositor?: string;
    before?: number;
    limit: number;
  }): Promise<(DepositBatchRecord & { batchNo: number })[]> {
    const { where, params } = pageWhere('batch_no < ?', query.before ?? Number.MAX_SAFE_INTEGER, query);
    const rows = await this.db.read((tx) =>
      tx.all<{ batch_no: number; depositor: string; batch_id: string; results: string; created_at: number }>(
        `SELECT batch_no, depositor, batch_id, results, created_at FROM deposit_batches WHERE ${where} ORDER BY batch_no DESC LIMIT ?`,
        params,
      ),
    );
    return rows.map((r) => ({ ...batchOf(r.depositor, r.batch_id, r), batchNo: r.batch_no }));
  }

  audit(): Promise<AuditFacts> {
    return this.db.read(readAuditFacts);
  }
}
