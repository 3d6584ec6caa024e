/**
 * A real bank behind real HTTP for the API tests: BankService over a fresh database of either
 * adapter (an SQLite file in a temp folder, or a PostgreSQL schema of its own dropped afterwards),
 * served by startBankServer on a free port, with an operator credential and a controllable clock.
 * Plus the card's side of the protocol over the client (open an account, withdraw, pay).
 */
import { randomBytes } from 'node:crypto';
import {
  blindWithdrawal,
  completeWithdrawal,
  type DenominationSecret,
  fromHex,
  getGroup,
  type Group,
  type SuiteId,
  seededRandom,
  systemRandom,
  toHex,
  type TranscriptJson,
} from '../../core/index.js';
import { type AccountOpenedJson, type AccountOpeningJson, accountOpeningJson, BankClient } from '../../host/bank-client/index.js';
import { type BankServer, type RateLimit, startBankServer } from '../../host/bank/http.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { type BankStorage, openStorage } from '../../host/bank/storage/index.js';
import { type Account, bankKey, openAccount, PAYMENT_TIME, type Withdrawn } from '../core/fixtures.js';
import { type AdapterKind, adapters, pay as payAs, testDb } from './helpers.js';

/** Both adapters; PostgreSQL is skipped only outside CI when ECASH_TEST_PG_URL is not set. */
export const ADAPTERS = adapters();

export interface BankFixture {
  kind: AdapterKind;
  group: Group;
  /** The 500 EUR-cent key (withdrawable) and a 100 one. */
  key: DenominationSecret;
  small: DenominationSecret;
  service: BankService;
  storage: BankStorage;
  server: BankServer;
  url: string;
  anon: BankClient;
  operator: BankClient;
  /** The service's clock; tests move it. */
  clock: { now: number };
  dispose(): Promise<void>;
}

export interface FixtureOptions {
  suite?: SuiteId;
  workerThreads?: number;
  rateLimit?: RateLimit | false;
  bodyLimit?: number;
  sessionTtlMs?: number;
}

export async function startBank(kind: AdapterKind, opts: FixtureOptions = {}): Promise<BankFixture> {
  const group = getGroup(opts.suite ?? 'ristretto255-sha512');
  const rng = seededRandom(`bank-http-${kind}`);
  const key = bankKey(group, rng, 500);
  const small = bankKey(group, rng, 100);
  const db = testDb(kind);
  const clock = { now: PAYMENT_TIME };
  const storage = await openStorage(db.url);
  const service = await BankService.create({
    storage,
    keys: memoryKeyStore(group.suite, [key, small]),
    workerThreads: opts.workerThreads ?? 0,
    now: () => clock.now,
    ...(opts.sessionTtlMs === undefined ? {} : { sessionTtlMs: opts.sessionTtlMs }),
  });
  const server = await startBankServer({
    service,
    port: 0,
    ...(opts.rateLimit === undefined ? { rateLimit: false as const } : { rateLimit: opts.rateLimit }),
    ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }),
  });
  const anon = new BankClient({ baseUrl: server.url, timeoutMs: 60_000 });
  const operator = anon.withToken((await service.addOperator('ops')).credential);
  return {
    kind,
    group,
    key,
    small,
    service,
    storage,
    server,
    url: server.url,
    anon,
    operator,
    clock,
    async dispose() {
      await server.close();
      await service.close();
      await storage.close();
      await db.dispose();
    },
  };
}

export function openingBody(group: Group, account: Account): AccountOpeningJson {
  return accountOpeningJson(group, account.holder, account.opening);
}

export interface Holder {
  account: Account;
  opened: AccountOpenedJson;
  client: BankClient;
}

let holderNo = 0;

/** A card's account opened over HTTP, credited `amount` EUR cents by the operator. */
export async function newHolder(bank: BankFixture, name: string, amount = 0): Promise<Holder> {
  const account = openAccount(
    bank.group,
    name,
    seededRandom(`holder-${name}-${holderNo++}-${bank.kind}-${randomBytes(4).toString('hex')}`),
  );
  const opened = await bank.anon.openAccount(openingBody(bank.group, account));
  if (amount > 0) await bank.operator.credit(opened.accountId, { currency: 'EUR', amount, reference: `top-up ${name}` });
  return { account, opened, client: bank.anon.withToken(opened.credential) };
}

export type WithdrawnCoin = Pick<Withdrawn, 'coin' | 'secrets'>;

/** One withdrawal over HTTP with the card's blinding done by core. */
export async function withdrawCoin(bank: BankFixture, holder: Holder, key: DenominationSecret = bank.key): Promise<WithdrawnCoin> {
  const G = bank.group;
  const s = await holder.client.startWithdrawal(toHex(key.key.keyId));
  const ctx = { key: key.key, z: G.decode(fromHex(s.z)), I: holder.account.I };
  const p = blindWithdrawal(G, ctx, { a: G.decode(fromHex(s.a)), b: G.decode(fromHex(s.b)) }, systemRandom);
  const { r } = await holder.client.answerWithdrawal(s.sessionId, toHex(G.scalars.encode(p.c)));
  return completeWithdrawal(G, ctx, p, G.scalars.decode(fromHex(r)));
}

/** The card pays `merchantId` with `coin`: the shop's transcript as JSON. */
export function pay(bank: BankFixture, holder: Holder, coin: WithdrawnCoin, merchantId: string): TranscriptJson {
  return payAs(bank.group, holder.account, coin, merchantId);
}

/** Everything a bad request must leave untouched: the audit, every balance and double spend. */
export async function snapshot(bank: BankFixture, accountIds: string[], merchantIds: string[]): Promise<string> {
  const accounts = [];
  for (const id of accountIds) accounts.push(await bank.operator.account(id), await bank.operator.accountStatement(id));
  const merchants = [];
  for (const id of merchantIds) merchants.push(await bank.operator.merchant(id), await bank.operator.merchantStatement(id));
  return JSON.stringify({ audit: await bank.service.audit(), accounts, merchants, ds: await bank.operator.doubleSpends() });
}

/** A raw request with full control over body bytes and headers. */
export async function raw(
  bank: BankFixture,
  method: string,
  path: string,
  opts: { token?: string; body?: string | Uint8Array; contentType?: string } = {},
): Promise<{ status: number; text: string; json: unknown }> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${bank.url}${path}`, { method, headers, ...(opts.body === undefined ? {} : { body: opts.body }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}
