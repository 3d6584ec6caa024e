/**
 * Shared pieces of the bank's tests: a fresh database on each adapter (an SQLite file in a temp
 * folder, or a PostgreSQL schema of its own that is dropped afterwards), raw SQL access to it (to
 * look at rows and to tamper with them the way an intruder with database access would), and the
 * card's side of the protocol (open an account, withdraw a coin, pay a merchant).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  blindWithdrawal,
  completeWithdrawal,
  type DenominationSecret,
  fromHex,
  type Group,
  type RandomSource,
  systemRandom,
  toHex,
  transcriptToJson,
  type TranscriptJson,
} from '../../core/index.js';
import type { BankService, DepositingParty } from '../../host/bank/service.js';
import { type Account, openAccount, paymentContext, spend, type Withdrawn } from '../core/fixtures.js';
import { postgresUrl, requireService } from '../helpers/env.js';

export type AdapterKind = 'sqlite' | 'postgres';

/** The adapters a suite runs on; PostgreSQL only where the test database is offered (always under CI). */
export function adapters(): { kind: AdapterKind; available: boolean }[] {
  return [
    { kind: 'sqlite', available: true },
    { kind: 'postgres', available: requireService(postgresUrl() !== undefined, 'PostgreSQL (ECASH_TEST_PG_URL)') },
  ];
}

export interface TestDb {
  kind: AdapterKind;
  /** What `--db` / `openStorage` takes. */
  url: string;
  /** For SQLite: the database file. */
  file?: string;
  /** For PostgreSQL: the schema of this database. */
  schema?: string;
  /** Runs raw SQL (with `?` placeholders) and returns the rows. */
  raw<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  dispose(): Promise<void>;
}

export function testDb(kind: AdapterKind): TestDb {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ecash-bank-'));
    const file = join(dir, 'bank.db');
    return {
      kind,
      url: file,
      file,
      async raw<T>(sql: string, params: unknown[] = []) {
        const db = new Database(file);
        try {
          const stmt = db.prepare(sql);
          return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as T[];
        } finally {
          db.close();
        }
      },
      async dispose() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const base = postgresUrl()!;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
  const client = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    kind,
    url,
    schema,
    raw<T>(sql: string, params: unknown[] = []) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      return client(async (c) => {
        await c.query(`SET search_path TO ${schema}`);
        return (await c.query(text, params)).rows as T[];
      });
    },
    dispose: () => client(async (c) => void (await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))),
  };
}

/** The card's side of an account: u1 and I made here, the opening proved and registered. */
export async function newAccount(
  svc: BankService,
  group: Group,
  holder: string,
): Promise<{ account: Account; accountId: string; credential: string }> {
  const account = openAccount(group, holder, systemRandom);
  const opened = await svc.openAccount(holder, account.I, account.opening.proof);
  return { account, accountId: opened.accountId, credential: opened.credential };
}

/**
 * One whole withdrawal through the service: start, blind, answer, unblind. `rng` is the card's
 * randomness (a card of the holder's own making may choose s, x1, x2 as it likes).
 */
export async function withdrawCoin(
  svc: BankService,
  group: Group,
  account: Account,
  accountId: string,
  secret: DenominationSecret,
  rng: RandomSource = systemRandom,
): Promise<Pick<Withdrawn, 'coin' | 'secrets'>> {
  const s = await svc.startWithdrawal(accountId, secret.key.keyId);
  const ctx = { key: secret.key, z: group.decode(fromHex(s.z)), I: account.I };
  const pending = blindWithdrawal(group, ctx, { a: group.decode(fromHex(s.a)), b: group.decode(fromHex(s.b)) }, rng);
  const r = await svc.answerWithdrawal(accountId, s.sessionId, pending.c);
  return completeWithdrawal(group, ctx, pending, r);
}

/** The card pays `merchantId` with `coin`: the transcript the shop deposits, as wire JSON. */
export function pay(group: Group, account: Account, coin: Pick<Withdrawn, 'coin' | 'secrets'>, merchantId: string): TranscriptJson {
  return transcriptToJson(group, spend(group, account, coin, paymentContext(systemRandom, merchantId)));
}

export const hex = toHex;

/** The party of a merchant's or an account holder's credential, as the deposit routes let it through. */
export async function depositorParty(svc: BankService, credential: string): Promise<DepositingParty> {
  const party = await svc.authenticate(credential);
  if (party.kind === 'operator') throw new Error('an operator credential does not deposit');
  return party;
}
