/**
 * The bank's domain service: accounts, withdrawal sessions, deposits, double spends and the
 * books, over one BankStorage and the denomination secrets of a BankKeyStore. Protocol math is
 * core's; every rule that protects money is decided here (and in deposit-booking.ts and
 * ledger.ts), inside one storage transaction over the rows it reads and locks: the storage stores,
 * the service decides. The HTTP layer (http.ts) validates wire shapes and who may call (access.ts)
 * and calls this; the CLI calls it directly for operator tasks.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  BankWithdrawalSession,
  bytesEqual,
  canWithdraw,
  decodeTranscript,
  type DenominationKey,
  type DenominationSecret,
  EcashError,
  formatAmount,
  type Group,
  type GroupElement,
  getGroup,
  keyFromJson,
  type KeyJson,
  makeDoubleSpendProof,
  proofToJson,
  type SuiteId,
  systemRandom,
  toHex,
  verifyAccountOpening,
  keyToJson,
  WithdrawalNonces,
} from '../../core/index.js';
import type {
  AccountJson,
  AccountOpeningJson,
  AccountOpenedJson,
  DepositBatchJson,
  DepositBatchListJson,
  DepositResultJson,
  DoubleSpendListJson,
  HealthJson,
  MerchantJson,
  MerchantListJson,
  AccountListJson,
  ParametersJson,
  StatementJson,
  WithdrawalStartJson,
} from '../bank-client/index.js';
import { type AuditReport, auditBooks } from './audit.js';
import { credentialIdOf, issueCredential, sha256Text, tokenMatches, unauthorized } from './credentials.js';
import { decodeElementHex, decodeScalarHex } from '../bank-client/index.js';
import {
  ACCOUNT_DEPOSITOR_PREFIX,
  accountDepositorId,
  cashInPostings,
  holderAccount,
  merchantAccount,
  withdrawalPostings,
} from './ledger.js';
import type { BankKeyStore } from './keyfile.js';
import { bookDepositBatch, type ConflictKeys, type VerifiedDeposit } from './deposit-booking.js';
import type {
  AccountRecord,
  BankStorage,
  CredentialRecord,
  DepositBatchRecord,
  DepositResult,
  KeyRecord,
  SessionRecord,
} from './storage/index.js';
import { CryptoPool } from './crypto-pool.js';

export const DEFAULT_SESSION_TTL_MS = 120_000;
export const MAX_DEPOSIT_BATCH = 1000;
/** The most entries a page of a statement or of the double-spend list holds (the API checks it). */
export const PAGE_MAX = 100;
const ACCOUNT_CACHE_SIZE = 10_000;
/** How long an authenticated credential is trusted without asking the database again. */
const CREDENTIAL_CACHE_MS = 10_000;
const CREDENTIAL_CACHE_SIZE = 10_000;
/** Holder names and merchant ids: 1-64 bytes of UTF-8 without control characters. */
const NAME_RE = /^[^\u0000-\u001f\u007f]{1,64}$/u;

export type Party =
  | { kind: 'account'; credentialId: string; accountId: string }
  | { kind: 'merchant'; credentialId: string; merchantId: string; scopes: string[]; feePerCoin: number }
  | { kind: 'operator'; credentialId: string };
/** The parties that deposit: an account holder (its own coins) or a merchant; operators never do. */
export type DepositingParty = Exclude<Party, { kind: 'operator' }>;

export interface BankServiceOptions {
  storage: BankStorage;
  keys: BankKeyStore;
  /** How long a withdrawal session stays open unanswered. */
  sessionTtlMs?: number;
  /**
   * Worker threads for deposit checks and withdrawal offers (0: in process). Default: the
   * machine's cores, at most 4.
   */
  workerThreads?: number;
  now?: () => number;
}

interface KeyEntry {
  record: KeyRecord;
  key: DenominationKey;
  json: KeyJson;
  /** Present while the key file holds its secret, with the sessions' w derived from it. */
  secret?: DenominationSecret;
  nonces?: WithdrawalNonces;
}

interface AccountEntry {
  I: GroupElement;
  /** I as stored, for the offer threads. */
  encodedI: Uint8Array;
  /** z = (I·g2)^x per key id, as the API sends it (hex): every withdrawal start returns it. */
  z: Map<string, string>;
}

function checkName(value: string, what: string): void {
  if (!NAME_RE.test(value) || Buffer.byteLength(value, 'utf8') > 64 || /\p{Cs}/u.test(value)) {
    throw new EcashError('bad-name', `${what} must be 1-64 bytes of UTF-8 without control characters`);
  }
}

const insufficientFunds = (currency: string, value: number) =>
  new EcashError(
    'insufficient-funds',
    `the account's ${currency} balance is below the coin's value ${formatAmount(value, currency)}; top it up first`,
  );

function resultToJson(r: DepositResult): DepositResultJson {
  switch (r.outcome) {
    case 'credited':
    case 'replay':
      return { outcome: r.outcome };
    case 'double-spend':
      return {
        outcome: 'double-spend',
        code: 'double-spend',
        message: 'this coin was already deposited with another payment; the spender is identified',
        doubleSpendId: r.doubleSpendId,
      };
    case 'rejected':
      return { outcome: 'rejected', code: r.code, message: r.message };
  }
}

export class BankService {
  readonly group: Group;
  readonly sessionTtlMs: number;
  private readonly keysByHex = new Map<string, KeyEntry>();
  private readonly keysByNo = new Map<number, KeyEntry>();
  private readonly accounts = new Map<string, AccountEntry>();
  /** Authenticated credentials: their record (the secret's hash, never the token) for a short while. */
  private readonly credentials = new Map<string, { party: Party; record: CredentialRecord; until: number }>();
  /**
   * With several processes on one database: whether this one hears every revocation (its feed
   * works), and how many it has heard, so that a lookup that raced a revocation is not cached.
   */
  private hearsRevocations = true;
  private revocationsHeard = 0;
  private revocationFeed: { close(): Promise<void> } | undefined;
  private pool!: CryptoPool;
  /** What the deposit booking needs to tell a replay from a double spend. */
  private readonly conflictKeys: ConflictKeys;
  private sweeper: NodeJS.Timeout | undefined;
  /** Sessions opened before this moment are never answered by this process (see answerWithdrawal). */
  private readonly startedAt: number;
  /** Sessions this process answered, with their challenge, until they expire (see answerWithdrawal). */
  private readonly answered = new Map<string, { c: bigint; until: number }>();

  private constructor(
    readonly storage: BankStorage,
    readonly now: () => number,
    suite: SuiteId,
    sessionTtlMs: number,
  ) {
    this.group = getGroup(suite);
    this.conflictKeys = { group: this.group, keyOf: (keyNo) => this.keysByNo.get(keyNo)!.key };
    this.sessionTtlMs = sessionTtlMs;
    this.startedAt = now();
  }

  /**
   * Opens the service over initialised storage: the storage's suite must be the key store's, and
   * every key of the key store is registered (its public half) before the service answers.
   */
  static async create(opts: BankServiceOptions): Promise<BankService> {
    const threads = opts.workerThreads ?? Math.min(4, availableParallelism());
    const suite = opts.keys.suite;
    await opts.storage.initSuite(suite);
    const service = new BankService(opts.storage, opts.now ?? Date.now, suite, opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS);
    const secrets = new Map<string, DenominationSecret>();
    for (const secret of opts.keys.loadSecrets()) secrets.set(await service.registerKey(secret), secret);
    await service.reloadKeys(secrets);
    // The keys are fixed from here on: the worker threads parse them once, at start.
    service.pool = await CryptoPool.start(suite, threads, service.publicKeyJson());
    service.sweeper = setInterval(
      () => void service.storage.expireSessions(service.now()).catch(() => undefined),
      Math.max(1000, service.sessionTtlMs / 4),
    );
    service.sweeper.unref();
    if (opts.storage.shared !== undefined) {
      try {
        service.revocationFeed = await opts.storage.shared.watchRevocations({
          revoked: (id) => service.forgetCredentials(id),
          lost: () => {
            service.hearsRevocations = false;
            service.forgetCredentials();
          },
          listening: () => {
            service.hearsRevocations = true;
          },
        });
      } catch (e) {
        await service.close();
        throw e;
      }
    }
    return service;
  }

  /** Up only if the database answers a query: a liveness probe must see a bank that cannot work. */
  async health(): Promise<HealthJson> {
    try {
      await this.storage.getSuite();
    } catch (cause) {
      throw new EcashError('database-unavailable', "the bank's database does not answer", { cause });
    }
    return { status: 'ok', suite: this.suite, storage: this.storage.kind };
  }

  /** A request names its suite (account opening, deposit batch): it must be this bank's. */
  checkSuite(suite: string): void {
    if (suite !== this.suite) throw new EcashError('wrong-suite', `this bank uses suite ${this.suite}, not ${suite}; fetch /v1/parameters`);
  }

  get suite(): SuiteId {
    return this.group.suite;
  }

  get workerThreads(): number {
    return this.pool.threads;
  }

  /** Records a key's public half; returns its key id (hex). */
  private async registerKey(secret: DenominationSecret): Promise<string> {
    const k = secret.key;
    const json = keyToJson(this.group, k);
    await this.storage.registerKey({
      keyId: k.keyId,
      keyJson: JSON.stringify(json),
      value: k.value,
      currency: k.currency,
      withdrawFrom: k.withdrawFrom,
      withdrawUntil: k.withdrawUntil,
      depositUntil: k.depositUntil,
      scope: k.scope,
    });
    return json.keyId;
  }

  /** Loads the public keys from storage (the ledger's record), with the secrets the key store has. */
  private async reloadKeys(secrets: ReadonlyMap<string, DenominationSecret>): Promise<void> {
    for (const record of await this.storage.listKeys()) {
      const hex = toHex(record.keyId);
      if (this.keysByHex.has(hex)) continue;
      const json = JSON.parse(record.keyJson) as KeyJson;
      const secret = secrets.get(hex);
      const entry: KeyEntry = {
        record,
        json,
        key: secret?.key ?? keyFromJson(this.group, json),
        ...(secret ? { secret, nonces: new WithdrawalNonces(this.group, secret) } : {}),
      };
      this.keysByHex.set(hex, entry);
      this.keysByNo.set(record.keyNo, entry);
    }
  }

  private publicKeyJson(): KeyJson[] {
    return [...this.keysByHex.values()].map((e) => e.json);
  }

  parameters(): ParametersJson {
    const now = this.now();
    const hex = (e: GroupElement) => toHex(this.group.encode(e));
    return {
      suite: this.suite,
      generators: { g: hex(this.group.g), g1: hex(this.group.g1), g2: hex(this.group.g2) },
      keys: [...this.keysByHex.values()].filter((e) => e.key.depositUntil >= now).map((e) => e.json),
      accountDepositorPrefix: ACCOUNT_DEPOSITOR_PREFIX,
      withdrawalSessionTtlMs: this.sessionTtlMs,
      maxDepositBatch: MAX_DEPOSIT_BATCH,
    };
  }

  // ------------------------------------------------------------------------------ credentials

  async authenticate(token: string | undefined): Promise<Party> {
    const id = token === undefined ? undefined : credentialIdOf(token);
    if (token === undefined || id === undefined) throw unauthorized();
    const now = this.now();
    const cached = this.credentials.get(id);
    if (cached !== undefined && cached.until > now && tokenMatches(token, cached.record)) return cached.party;
    const heard = this.revocationsHeard;
    const record = await this.storage.getCredential(id);
    if (record === undefined || !tokenMatches(token, record)) throw unauthorized();
    let party: Party;
    if (record.kind === 'account') {
      party = { kind: 'account', credentialId: id, accountId: record.partyId };
    } else if (record.kind === 'merchant') {
      const m = await this.storage.getMerchant(record.partyId);
      if (m === undefined) throw unauthorized();
      party = { kind: 'merchant', credentialId: id, merchantId: m.merchantId, scopes: m.scopes, feePerCoin: m.feePerCoin };
    } else {
      party = { kind: 'operator', credentialId: id };
    }
    // A revocation heard during the lookup may be of this credential, read just before it.
    if (!this.hearsRevocations || heard !== this.revocationsHeard) return party;
    if (this.credentials.size >= CREDENTIAL_CACHE_SIZE) this.credentials.delete(this.credentials.keys().next().value!);
    this.credentials.set(id, { party, record, until: now + CREDENTIAL_CACHE_MS });
    return party;
  }

  /** Drops a revoked credential from the cache (every credential without an id). */
  private forgetCredentials(credentialId?: string): void {
    this.revocationsHeard++;
    if (credentialId === undefined) this.credentials.clear();
    else this.credentials.delete(credentialId);
  }

  /**
   * Operator task: revokes a credential by its id (the 16 hex digits after "ecash." in its token).
   * This process forgets it at once. Other processes on the same PostgreSQL database hear of it at
   * the commit (NOTIFY) and forget it then, within milliseconds; one whose feed of revocations is
   * down caches no credential until it listens again, and a notice lost without the connection
   * failing is covered by the cache's time (10 s). On SQLite, where one server runs, a server
   * other than the revoking process (the CLI) stops accepting it within that time.
   */
  async revokeCredential(
    credentialId: string,
  ): Promise<{ credentialId: string; kind: CredentialRecord['kind']; partyId: string; revokedAt: number }> {
    if (!/^[0-9a-f]{16}$/.test(credentialId)) {
      throw new EcashError(
        'bad-credential-id',
        'a credential id is the 16 hex digits after "ecash." in its token (never pass the whole token: it is a secret)',
      );
    }
    const record = await this.storage.revokeCredential(credentialId, this.now());
    if (record === undefined) throw new EcashError('credential-not-found', `no credential ${credentialId}`);
    this.forgetCredentials(credentialId);
    return { credentialId, kind: record.kind, partyId: record.partyId, revokedAt: record.revokedAt! };
  }

  /** Operator task: a merchant with the scopes it accepts and its fee; returns its token. */
  async addMerchant(m: {
    merchantId: string;
    name?: string;
    scopes?: string[];
    feePerCoin?: number;
  }): Promise<{ merchantId: string; credential: string }> {
    checkName(m.merchantId, 'merchant id');
    if (m.merchantId.startsWith(ACCOUNT_DEPOSITOR_PREFIX)) {
      throw new EcashError(
        'bad-name',
        `merchant ids starting with "${ACCOUNT_DEPOSITOR_PREFIX}" are reserved for account holders' own deposits`,
      );
    }
    const scopes = [...new Set(m.scopes ?? [])];
    for (const s of scopes)
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(s))
        throw new EcashError('bad-scope', `scope "${s}" is not 1-64 characters of a-z, 0-9, ".", "_", "-"`);
    const fee = m.feePerCoin ?? 0;
    if (!Number.isSafeInteger(fee) || fee < 0)
      throw new EcashError('bad-amount', 'the fee per coin must be a non-negative integer of minor units');
    const now = this.now();
    await this.storage.createMerchant({ merchantId: m.merchantId, name: m.name ?? m.merchantId, scopes, feePerCoin: fee, createdAt: now });
    const issued = issueCredential('merchant', m.merchantId, now);
    await this.storage.addCredential(issued.record);
    return { merchantId: m.merchantId, credential: issued.token };
  }

  /** Operator task: a credential for the operator endpoints (all double spends). */
  async addOperator(name: string): Promise<{ credential: string }> {
    checkName(name, 'operator name');
    const issued = issueCredential('operator', name, this.now());
    await this.storage.addCredential(issued.record);
    return { credential: issued.token };
  }

  /** Operator task: money in (cash or a transfer) credited to an account. */
  async cashIn(accountId: string, currency: string, amount: number, reference: string): Promise<{ entryId: number }> {
    if (!/^[A-Z]{3}$/.test(currency)) throw new EcashError('bad-currency', 'currency must be an ISO 4217 code such as EUR');
    if (!Number.isSafeInteger(amount) || amount <= 0)
      throw new EcashError('bad-amount', 'a cash-in amount must be a positive integer of minor units');
    const now = this.now();
    const entryId = await this.storage.transaction(async (tx) => {
      if (!(await tx.accountExists(accountId))) throw new EcashError('account-not-found', `no account ${accountId}`);
      return tx.post('cash-in', reference, cashInPostings(accountId, currency, amount), now);
    });
    return { entryId };
  }

  // --------------------------------------------------------------------------------- accounts

  private zFor(account: AccountEntry, entry: KeyEntry): string {
    const keyId = entry.json.keyId;
    let z = account.z.get(keyId);
    if (z === undefined) {
      z = toHex(this.group.encode(this.group.exp(this.group.mul(account.I, this.group.g2), entry.secret!.x)));
      account.z.set(keyId, z);
    }
    return z;
  }

  private remember(accountId: string, I: GroupElement, encodedI: Uint8Array): AccountEntry {
    let entry = this.accounts.get(accountId);
    if (entry === undefined) {
      if (this.accounts.size >= ACCOUNT_CACHE_SIZE) this.accounts.delete(this.accounts.keys().next().value!);
      entry = { I, encodedI, z: new Map() };
      this.accounts.set(accountId, entry);
    }
    return entry;
  }

  private async account(accountId: string): Promise<AccountEntry> {
    const cached = this.accounts.get(accountId);
    if (cached !== undefined) return cached;
    const a = await this.storage.getAccount(accountId);
    if (a === undefined) throw new EcashError('account-not-found', `no account ${accountId}`);
    return this.remember(accountId, this.group.decode(a.I, 'I'), a.I);
  }

  /**
   * `openAccount` from the API's JSON (the HTTP body, or the file `ecash bank account open` reads):
   * the suite must be the bank's, I and the proof decode strictly; `field` prefixes the names in errors.
   */
  openAccountJson(opening: AccountOpeningJson, field = ''): Promise<AccountOpenedJson> {
    this.checkSuite(opening.suite);
    const I = decodeElementHex(this.group, opening.I, `${field}I`);
    const proof = {
      t: decodeElementHex(this.group, opening.proof.t, `${field}proof.t`),
      s: decodeScalarHex(this.group, opening.proof.s, `${field}proof.s`),
    };
    return this.openAccount(opening.holder, I, proof);
  }

  /**
   * Registers a card's account: checks the opening proof (core), that I is new, and returns a
   * credential and z for every key withdrawable now (later keys: with each withdrawal start).
   */
  async openAccount(holder: string, I: GroupElement, proof: { t: GroupElement; s: bigint }): Promise<AccountOpenedJson> {
    checkName(holder, 'holder');
    verifyAccountOpening(this.group, holder, { I, proof });
    const now = this.now();
    const accountId = randomBytes(12).toString('hex');
    const encodedI = this.group.encode(I);
    await this.storage.createAccount({ accountId, holder, I: encodedI, createdAt: now });
    const issued = issueCredential('account', accountId, now);
    await this.storage.addCredential(issued.record);
    const entry = this.remember(accountId, I, encodedI);
    const z = [...this.keysByHex.values()]
      .filter((e) => e.secret !== undefined && canWithdraw(e.key, now))
      .map((e) => ({ keyId: e.json.keyId, z: this.zFor(entry, e) }));
    return { accountId, holder, credential: issued.token, depositorId: accountDepositorId(accountId), z };
  }

  async accountView(accountId: string): Promise<AccountJson> {
    const a = await this.storage.getAccount(accountId);
    if (a === undefined) throw new EcashError('account-not-found', `no account ${accountId}`);
    return this.accountJson(a);
  }

  private async accountJson(a: AccountRecord): Promise<AccountJson> {
    const { accountId, holder, createdAt } = a;
    return {
      accountId,
      holder,
      depositorId: accountDepositorId(accountId),
      createdAt,
      balances: await this.storage.balances(holderAccount(accountId)),
    };
  }

  /** A page of accounts in id order, with their balances (the operator's console). */
  async listAccounts(after: string | undefined, limit: number): Promise<AccountListJson> {
    const records = await this.storage.listAccounts({ ...(after === undefined ? {} : { after }), limit });
    const accounts = await Promise.all(records.map((a) => this.accountJson(a)));
    return accounts.length === limit ? { accounts, next: accounts[accounts.length - 1]!.accountId } : { accounts };
  }

  /** A page of merchants in id order, with their balances. */
  async listMerchants(after: string | undefined, limit: number): Promise<MerchantListJson> {
    const records = await this.storage.listMerchants({ ...(after === undefined ? {} : { after }), limit });
    const merchants = await Promise.all(
      records.map(async (m) => ({ ...m, balances: await this.storage.balances(merchantAccount(m.merchantId)) })),
    );
    return merchants.length === limit ? { merchants, next: merchants[merchants.length - 1]!.merchantId } : { merchants };
  }

  async merchantView(merchantId: string): Promise<MerchantJson> {
    const m = await this.storage.getMerchant(merchantId);
    if (m === undefined) throw new EcashError('merchant-not-found', `no merchant ${merchantId}`);
    return { ...m, balances: await this.storage.balances(merchantAccount(merchantId)) };
  }

  /** A page of an account's statement, newest first (`limit` is 1 to PAGE_MAX). */
  accountStatement(accountId: string, before: number | undefined, limit: number): Promise<StatementJson> {
    return this.statement(holderAccount(accountId), before, limit, async () => {
      if ((await this.storage.getAccount(accountId)) === undefined) throw new EcashError('account-not-found', `no account ${accountId}`);
    });
  }

  /** A page of a merchant's statement, newest first (`limit` is 1 to PAGE_MAX). */
  merchantStatement(merchantId: string, before: number | undefined, limit: number): Promise<StatementJson> {
    return this.statement(merchantAccount(merchantId), before, limit, async () => {
      if ((await this.storage.getMerchant(merchantId)) === undefined)
        throw new EcashError('merchant-not-found', `no merchant ${merchantId}`);
    });
  }

  /** An empty page may be a party that does not exist: only then is `exists` asked, to say so. */
  private async statement(
    ledgerAccount: string,
    before: number | undefined,
    limit: number,
    exists: () => Promise<void>,
  ): Promise<StatementJson> {
    const entries = await this.storage.statement({ account: ledgerAccount, ...(before === undefined ? {} : { before }), limit });
    if (entries.length === 0) await exists();
    return entries.length === limit ? { entries, next: entries[entries.length - 1]!.entryId } : { entries };
  }

  // ------------------------------------------------------------------------------ withdrawals

  /** Step 1 for the authenticated account: a session under `keyId` with the offer (a, b) and z. */
  async startWithdrawal(accountId: string, keyId: Uint8Array): Promise<WithdrawalStartJson> {
    const entry = this.keysByHex.get(toHex(keyId));
    if (entry === undefined) throw new EcashError('unknown-key', 'this bank has no denomination key with that id');
    const now = this.now();
    if (entry.secret === undefined || !canWithdraw(entry.key, now)) {
      throw new EcashError('key-not-withdrawable', 'coins of this key cannot be withdrawn now; fetch the current keys from /v1/parameters');
    }
    const account = await this.account(accountId);
    // From the pooled CSPRNG: randomBytes cost a call to it per withdrawal.
    const session = { sessionId: toHex(systemRandom.bytes(16)), createdAt: now, expiresAt: now + this.sessionTtlMs };
    // w is derived here, from the key's secret and the session's public facts, and stored nowhere:
    // the answer derives it again. The offer is made before the storage checks the funds and the
    // open session, in the same transaction that stores it: one transaction per step instead of
    // two. A start that fails costs the bank the offer's exponentiations, within the credential's
    // rate limit. In a worker thread (about 0.8 ms with ristretto255: two exponentiations and two
    // encodings), which gets w but never x.
    const { a, b } = await this.pool.offer(account.encodedI, this.group.scalars.encode(entry.nonces!.w(session)));
    const { value, currency } = entry.record;
    const open = { ...session, accountId, keyNo: entry.record.keyNo, a, b };
    // One statement where statements cost round trips; the transaction below when the account
    // has an open session (stale or not) and on SQLite.
    const opened = await this.storage.oneStatement?.openSession(open, { account: holderAccount(accountId), currency, value });
    if (opened === 'insufficient-funds') throw insufficientFunds(currency, value);
    if (opened !== 'opened')
      await this.storage.transaction(async (tx) => {
        if ((await tx.balance(holderAccount(accountId), currency)) < value) throw insufficientFunds(currency, value);
        if (await tx.insertOpenSession(open)) return;
        // The account has an open session: if it is stale, expire it and open this one.
        if (!(await tx.expireStaleSession(accountId, session.createdAt)) || !(await tx.insertOpenSession(open))) {
          throw new EcashError(
            'session-open',
            'this account already has an open withdrawal session; answer or cancel it, or wait until it expires',
          );
        }
      });
    return {
      sessionId: session.sessionId,
      keyId: entry.json.keyId,
      z: this.zFor(account, entry),
      a: toHex(a),
      b: toHex(b),
      expiresAt: session.expiresAt,
    };
  }

  /**
   * Step 3: r = c·x + w, once, with the debit in the same transaction. The same c again returns
   * the same r (a lost answer); another c fails with `session-answered`, and `session-expired`,
   * `session-cancelled`, `session-not-found` (also another account's session) and
   * `insufficient-funds` (the balance is read again, locked, in the answer's transaction).
   *
   * w follows from the session's key, id and times, so the database alone cannot stop a second
   * answer on one w (which reveals x = (r − r')/(c − c')) once it has lost the first: a backup
   * restored, a replica promoted without the last commits, a row edited. Two rules outside it do:
   * a session opened before this process started is not answered (a restore needs a restart;
   * `session-expired`, the card starts again), and this process remembers every session it has
   * answered, with its challenge, until the session expires (`session-answered` for another c).
   */
  async answerWithdrawal(accountId: string, sessionId: string, c: bigint): Promise<bigint> {
    const F = this.group.scalars;
    const encodedC = F.encode(c);
    const now = this.now();
    const answered = await this.answerInOneStatement(accountId, sessionId, c, encodedC, now);
    if (answered !== undefined) return answered;
    // Expiry is committed before the error is raised, so the outcome is returned, not thrown.
    const outcome = await this.storage.transaction(async (tx): Promise<{ r: Uint8Array } | { error: EcashError }> => {
      const s = await tx.lockSession(sessionId);
      if (s === undefined || s.accountId !== accountId) {
        return { error: new EcashError('session-not-found', 'no withdrawal session with this id for this account') };
      }
      if (s.state === 'answered') {
        if (s.c !== null && s.r !== null && bytesEqual(s.c, encodedC)) return { r: s.r };
        return {
          error: new EcashError(
            'session-answered',
            'this withdrawal session has already answered another challenge; start a new session for another coin',
          ),
        };
      }
      if (s.state === 'cancelled')
        return { error: new EcashError('session-cancelled', 'this withdrawal session was cancelled; start a new one') };
      if (s.state === 'expired' || s.expiresAt <= now) {
        await tx.expireSession(sessionId);
        return { error: new EcashError('session-expired', 'this withdrawal session expired before it was answered; start a new one') };
      }
      const holder = holderAccount(accountId);
      if ((await tx.balance(holder, s.currency, true)) < s.value) return { error: insufficientFunds(s.currency, s.value) };
      const r = F.encode(this.answer(s, c, now));
      if (!(await tx.answerSession(sessionId, encodedC, r, now)))
        throw new EcashError('session-answered', 'this withdrawal session has already answered');
      await tx.post('withdrawal', `withdrawal:${sessionId}`, withdrawalPostings(accountId, s.keyId, s.currency, s.value), now);
      return { r };
    });
    if ('error' in outcome) throw outcome.error;
    return F.decode(outcome.r, 'r');
  }

  /**
   * The answer in two statements where statements cost round trips: the session read as it is,
   * then, if it is open, unexpired and funded, r computed and the session answered and debited in
   * one statement that locks and checks it all again. Undefined when that did not answer it (or
   * the storage has no such steps): the transaction of answerWithdrawal then finds out why, or
   * answers a session a concurrent request changed in between. A challenge remembered here for a
   * session the statement then could not answer (its funds went in between) stays the only one
   * this process answers for it, as for a lost answer.
   */
  private async answerInOneStatement(
    accountId: string,
    sessionId: string,
    c: bigint,
    encodedC: Uint8Array,
    now: number,
  ): Promise<bigint | undefined> {
    const steps = this.storage.oneStatement;
    if (steps === undefined) return undefined;
    const holder = holderAccount(accountId);
    const s = await steps.peekSession(sessionId, holder);
    if (s === undefined || s.accountId !== accountId || s.state !== 'open' || s.expiresAt <= now || s.balance < s.value) return undefined;
    const r = this.answer(s, c, now);
    const done = await steps.answerSession({
      sessionId,
      accountId,
      c: encodedC,
      r: this.group.scalars.encode(r),
      now,
      funds: { account: holder, currency: s.currency, value: s.value },
      reference: `withdrawal:${sessionId}`,
      postings: withdrawalPostings(accountId, s.keyId, s.currency, s.value),
    });
    return done ? r : undefined;
  }

  /** r = c·x + w for an open, unexpired, funded session, with w derived again (never stored). */
  private answer(session: SessionRecord, c: bigint, now: number): bigint {
    const entry = this.keysByNo.get(session.keyNo);
    if (entry?.secret === undefined || entry.nonces === undefined) {
      throw new EcashError('key-not-withdrawable', "the session's key is no longer in the key file");
    }
    if (session.createdAt < this.startedAt) {
      throw new EcashError('session-expired', 'this withdrawal session was opened before the bank last started; start a new one');
    }
    if ((this.answered.get(session.sessionId)?.c ?? c) !== c) {
      throw new EcashError(
        'session-answered',
        'this withdrawal session has already answered another challenge; start a new session for another coin',
      );
    }
    const w = entry.nonces.w({ sessionId: session.sessionId, createdAt: session.createdAt, expiresAt: session.expiresAt });
    const r = BankWithdrawalSession.restore(this.group, entry.secret, { w }).answer(c);
    this.rememberAnswer(session.sessionId, c, session.expiresAt, now);
    return r;
  }

  /** Keeps a session's challenge until the session expires; forgets those that have. */
  private rememberAnswer(sessionId: string, c: bigint, until: number, now: number): void {
    for (const [id, answered] of this.answered) {
      if (answered.until > now) break;
      this.answered.delete(id);
    }
    this.answered.set(sessionId, { c, until });
  }

  async cancelWithdrawal(accountId: string, sessionId: string): Promise<void> {
    if (!(await this.storage.cancelSession(sessionId, accountId, this.now()))) {
      throw new EcashError('session-not-found', 'no open withdrawal session with this id for this account');
    }
  }

  // --------------------------------------------------------------------------------- deposits

  private depositorOf(party: DepositingParty): { depositor: string; scopes: string[]; feePerCoin: number; creditAccount: string } {
    if (party.kind === 'account') {
      return { depositor: accountDepositorId(party.accountId), scopes: [], feePerCoin: 0, creditAccount: holderAccount(party.accountId) };
    }
    return {
      depositor: party.merchantId,
      scopes: party.scopes,
      feePerCoin: party.feePerCoin,
      creditAccount: merchantAccount(party.merchantId),
    };
  }

  private batchToJson(r: DepositBatchRecord): DepositBatchJson {
    return {
      batchId: r.batchId,
      depositor: r.depositor,
      createdAt: r.createdAt,
      results: r.results.map(resultToJson),
      credited: r.credited,
    };
  }

  /**
   * Deposits a batch of wire transcripts (JSON objects, parsed by the workers) for `party`,
   * idempotent by batch id. One result per transcript, in order.
   */
  async deposit(party: DepositingParty, batchId: string, transcripts: readonly unknown[]): Promise<DepositBatchJson> {
    const d = this.depositorOf(party);
    if (transcripts.length === 0 || transcripts.length > MAX_DEPOSIT_BATCH) {
      throw new EcashError('bad-batch', `a deposit batch holds 1 to ${MAX_DEPOSIT_BATCH} transcripts`);
    }
    const requestHash = sha256Text(JSON.stringify(transcripts));
    const prior = await this.storage.getDepositBatch(d.depositor, batchId);
    if (prior !== undefined) {
      if (!bytesEqual(prior.requestHash, requestHash)) {
        throw new EcashError(
          'batch-id-reused',
          `batch ${batchId} was already deposited with other transcripts; use a new batch id for a new batch`,
        );
      }
      return this.batchToJson(prior);
    }
    const now = this.now();
    const checked = await this.pool.check({ depositor: d.depositor, scopes: d.scopes, now, transcripts });
    const prechecked: (DepositResult | undefined)[] = [];
    const verified: VerifiedDeposit[] = [];
    checked.forEach((c, index) => {
      if (!c.ok) {
        prechecked.push({ outcome: 'rejected', code: c.code, message: c.message });
        return;
      }
      const entry = this.keysByHex.get(toHex(c.keyId))!;
      prechecked.push(undefined);
      verified.push({
        index,
        keyNo: entry.record.keyNo,
        keyId: c.keyId,
        value: entry.key.value,
        currency: entry.key.currency,
        coin: c.coin,
        transcript: c.transcript,
        ...(c.refusal === undefined ? {} : { refusal: c.refusal }),
      });
    });
    const batch = {
      depositor: d.depositor,
      batchId,
      requestHash,
      prechecked,
      verified,
      creditAccount: d.creditAccount,
      feePerCoin: d.feePerCoin,
      now,
    };
    const record = await this.storage.transaction((tx) => bookDepositBatch(tx, batch, this.conflictKeys));
    return this.batchToJson(record);
  }

  async getDepositBatch(party: DepositingParty, batchId: string): Promise<DepositBatchJson> {
    const d = this.depositorOf(party);
    const record = await this.storage.getDepositBatch(d.depositor, batchId);
    if (record === undefined) throw new EcashError('batch-not-found', `no deposit batch ${batchId} from this depositor`);
    return this.batchToJson(record);
  }

  /** What a party's lists hold: every depositor's for an operator, its own deposits' otherwise. */
  private listedFor(party: Party): { depositor?: string } {
    return party.kind === 'operator' ? {} : { depositor: this.depositorOf(party).depositor };
  }

  /** Booked deposit batches, newest first: all for an operator, its own otherwise. */
  async listDepositBatches(party: Party, before: number | undefined, limit: number): Promise<DepositBatchListJson> {
    const records = await this.storage.listDepositBatches({ ...this.listedFor(party), ...(before === undefined ? {} : { before }), limit });
    const deposits = records.map((r) => ({ batchNo: r.batchNo, ...this.batchToJson(r) }));
    return deposits.length === limit ? { deposits, next: deposits[deposits.length - 1]!.batchNo } : { deposits };
  }

  /** Double spends with their proofs: all for an operator, those of its own deposits otherwise. */
  async listDoubleSpends(party: Party, after: number | undefined, limit: number): Promise<DoubleSpendListJson> {
    const records = await this.storage.listDoubleSpends({ ...this.listedFor(party), ...(after === undefined ? {} : { after }), limit });
    const holders = new Map<string, string | null>();
    const out = [];
    for (const r of records) {
      const key = this.keysByNo.get(r.keyNo)!.key;
      const proof = makeDoubleSpendProof(this.group, key, decodeTranscript(this.group, r.first), decodeTranscript(this.group, r.second));
      let holder: string | null = null;
      if (r.accountId !== null) {
        if (!holders.has(r.accountId)) holders.set(r.accountId, (await this.storage.getAccount(r.accountId))?.holder ?? null);
        holder = holders.get(r.accountId)!;
      }
      out.push({
        doubleSpendId: r.doubleSpendId,
        accountId: r.accountId,
        holder,
        depositor: r.depositor,
        batchId: r.batchId,
        createdAt: r.createdAt,
        proof: proofToJson(this.group, proof),
      });
    }
    return out.length === limit ? { doubleSpends: out, next: out[out.length - 1]!.doubleSpendId } : { doubleSpends: out };
  }

  // ------------------------------------------------------------------------------------ books

  audit(): Promise<AuditReport> {
    return auditBooks(this.storage);
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.revocationFeed?.close();
    await this.pool.close();
  }
}
