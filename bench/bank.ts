/**
 * The bank over HTTP on this machine: withdrawals and deposits with concurrent clients against one
 * server (fastify + BankService in this process's main thread, deposit checks in 2 worker
 * threads), and the storage each deposited coin costs, indexes included.
 *
 * - withdraw_coins_per_s: what the bank signs over HTTP with K cards withdrawing at once (start a
 *   session, answer a challenge), their loops in 2 worker threads of this process. In the timed
 *   runs the cards send random challenges instead of blinding, which the bank cannot tell apart
 *   (r = c·x + w for any c): in the field the cards' math runs on their chips, and here it would
 *   take the bank's 2 cores. The untimed first run blinds and checks every answer.
 *   withdraw_with_card_math_coins_per_s times the full loop (blind, answer, check and unblind).
 * - deposit_coins_per_s_<db>: 4 merchants post batches of 250 real, distinct transcripts at once;
 *   median of 3 runs, each on a fresh database.
 * - deposit_bytes_per_coin_<db>: growth of the database (tables and indexes, after a WAL
 *   checkpoint or VACUUM) over ECASH_BENCH_DEPOSITS deposits (default 100,000) through the same
 *   HTTP path, per coin, with the tables that account for it.
 *
 * PostgreSQL comes from ECASH_BENCH_PG_URL or ECASH_TEST_PG_URL, in a random schema dropped after.
 * CPU is split three ways: the bank's main thread (its event loop's busy time, which includes
 * SQLite's synchronous statements; the commits' fsyncs run on the thread pool), this whole process
 * (plus workers) and the machine (the rest is PostgreSQL and whatever else runs on this shared
 * machine).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  batchVerifyTranscripts,
  DEFAULT_SUITE,
  decodeTranscript,
  getGroup,
  keyToJson,
  randomScalar,
  seededRandom,
  systemRandom,
  toHex,
  type Transcript,
  transcriptBytesFromJson,
  type TranscriptJson,
} from '../core/index.js';
import { BankClient } from '../host/bank-client/index.js';
import { startBankServer } from '../host/bank/http.js';
import { memoryKeyStore } from '../host/bank/keyfile.js';
import { BankService } from '../host/bank/service.js';
import { startWorker } from '../host/bank/threads.js';
import { openPostgresStorage, openSqliteStorage, type BankStorage } from '../host/bank/storage/index.js';
import { bankKey, openAccount, PAYMENT_TIME } from '../test/core/fixtures.js';
import type { WithdrawGo, WorkerReply, WorkerTask } from './bank-worker.js';
import { type BenchContext, type BenchModule, type Figures, median, round, unmeasured } from './harness.js';

const SUITE = DEFAULT_SUITE;
const KEY_SEED = 'bench/bank/key';
const MERCHANTS = ['bench-shop-0', 'bench-shop-1', 'bench-shop-2', 'bench-shop-3'];
/** The bank's worker threads (deposit checks, withdrawal offers), as `ecash bank serve` starts on 2 cores. */
const BANK_THREADS = 2;
/** Client threads (withdrawal loops) and minting threads. */
const THREADS = 2;
const DEFAULT_DEPOSITS = 100_000;

interface Config {
  runs: number;
  /** Coins per deposit throughput run (spread over the 4 merchants). */
  throughputCoins: number;
  batch: number;
  /** Deposits of the storage figure. */
  deposits: number;
  withdrawAccounts: number;
  coinsPerAccount: number;
}

function config(quick: boolean): Config {
  const env = process.env.ECASH_BENCH_DEPOSITS;
  const deposits = env === undefined || env === '' ? (quick ? 200 : DEFAULT_DEPOSITS) : Number(env);
  if (!Number.isSafeInteger(deposits) || deposits < MERCHANTS.length) {
    throw new Error(`ECASH_BENCH_DEPOSITS must be an integer of at least ${MERCHANTS.length}, not "${env}"`);
  }
  return quick
    ? { runs: 1, throughputCoins: 100, batch: 25, deposits, withdrawAccounts: 2, coinsPerAccount: 2 }
    : { runs: 3, throughputCoins: 4000, batch: 250, deposits, withdrawAccounts: 32, coinsPerAccount: 12 };
}

// ------------------------------------------------------------------------------ measurement

/** Machine-wide CPU time (all cores, ms) and idle time, from the kernel's counters. */
function machineCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    total += t;
    busy += t - c.times.idle;
  }
  return { busy, total };
}

interface Sample {
  wallMs: number;
  /** The main thread's event loop busy time: the bank's HTTP, service and SQLite work. */
  mainMs: number;
  /** This process's CPU (all threads). */
  processMs: number;
  /** Share of the machine's cores busy (any process). */
  machineBusy: number;
}

async function measure(fn: () => Promise<void>): Promise<Sample> {
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const m0 = machineCpu();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  const m1 = machineCpu();
  return {
    wallMs,
    mainMs: elu.active,
    processMs: (cpu.user + cpu.system) / 1000,
    machineBusy: m1.total > m0.total ? (m1.busy - m0.busy) / (m1.total - m0.total) : 0,
  };
}

/**
 * Median time of appending 4 KiB to a file and fsyncing it in `dir`: what the bank's group commit
 * does to SQLite's WAL (one fsync for the commits made meanwhile), the floor of a durable commit.
 */
function fsyncMs(dir: string, count: number): number {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 7);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      writeSync(fd, block, 0, block.length, i * 4096);
      fsyncSync(fd);
      times.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return median(times);
}

// ---------------------------------------------------------------------------------- workers

function spawn(task: WorkerTask): Worker {
  return startWorker(new URL('./bank-worker.ts', import.meta.url), task);
}

function nextReply(w: Worker): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerReply) => {
      w.off('error', onError);
      if ('error' in m) reject(new Error(`bench worker: ${m.error}`));
      else resolve(m);
    };
    const onError = (e: Error) => {
      w.off('message', onMessage);
      reject(e);
    };
    w.once('message', onMessage);
    w.once('error', onError);
  });
}

/** `count` coins minted in THREADS threads, grouped by merchant. */
async function mintCoins(count: number): Promise<TranscriptJson[][]> {
  const share = Math.ceil(count / THREADS);
  const workers = Array.from({ length: THREADS }, (_, i) =>
    spawn({
      task: 'mint',
      suite: SUITE,
      keySeed: KEY_SEED,
      worker: i,
      from: i * share,
      to: Math.min(count, (i + 1) * share),
      merchants: MERCHANTS,
    }),
  );
  try {
    const replies = await Promise.all(workers.map(nextReply));
    const byMerchant: TranscriptJson[][] = MERCHANTS.map(() => []);
    for (const r of replies) {
      if (!('minted' in r)) throw new Error('bench worker: unexpected reply to mint');
      for (const c of r.minted) byMerchant[c.index % MERCHANTS.length]!.push(c.transcript);
    }
    return byMerchant;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// ------------------------------------------------------------------------------------- bank

type DbKind = 'sqlite' | 'postgres';

interface Bench {
  storage: BankStorage;
  service: BankService;
  url: string;
  merchantTokens: string[];
  /** The SQLite file, or the PostgreSQL URL with its schema. */
  location: string;
  schema?: string;
  close(): Promise<void>;
}

function pgBaseUrl(): string | undefined {
  return process.env.ECASH_BENCH_PG_URL || process.env.ECASH_TEST_PG_URL || undefined;
}

/** One connection of the bench's own to the PostgreSQL server, for `fn`. */
async function withPg<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgBaseUrl()! });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const dropSchema = (schema: string): Promise<unknown> => withPg((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));

async function openBench(kind: DbKind, dir: string, workerThreads: number): Promise<Bench> {
  let storage: BankStorage;
  let location: string;
  let schema: string | undefined;
  if (kind === 'sqlite') {
    location = join(dir, `bank-${randomBytes(4).toString('hex')}.db`);
    storage = await openSqliteStorage(location);
  } else {
    const base = pgBaseUrl()!;
    schema = `bench_${randomBytes(6).toString('hex')}`;
    const u = new URL(base);
    u.searchParams.set('schema', schema);
    location = u.toString();
    storage = await openPostgresStorage(location);
  }
  const G = getGroup(SUITE);
  const secret = bankKey(G, seededRandom(KEY_SEED));
  const t0 = Date.now();
  // The key's year starts at 2026-01-01; a clock that starts at the fixtures' payment time and
  // moves with real time keeps the bench inside it whatever today's date.
  const service = await BankService.create({
    storage,
    keys: memoryKeyStore(SUITE, [secret]),
    workerThreads,
    now: () => PAYMENT_TIME + (Date.now() - t0),
  });
  const server = await startBankServer({ service, rateLimit: false });
  const merchantTokens: string[] = [];
  for (const m of MERCHANTS) merchantTokens.push((await service.addMerchant({ merchantId: m })).credential);
  return {
    storage,
    service,
    url: server.url,
    merchantTokens,
    location,
    ...(schema === undefined ? {} : { schema }),
    async close() {
      await server.close();
      await service.close();
      await storage.close();
      if (kind === 'sqlite') for (const suffix of ['', '-wal', '-shm']) rmSync(location + suffix, { force: true });
      else await dropSchema(schema!);
    },
  };
}

/** The first `n` coins, spread over the merchants as minted. */
function trimTo(coins: TranscriptJson[][], n: number): TranscriptJson[][] {
  const per = Math.floor(n / coins.length);
  const extra = n - per * coins.length;
  return coins.map((c, i) => c.slice(0, per + (i < extra ? 1 : 0)));
}

/** Every merchant posts its coins in batches at once; every transcript must be credited. */
async function depositAll(b: Bench, byMerchant: TranscriptJson[][], batch: number): Promise<number> {
  let credited = 0;
  await Promise.all(
    byMerchant.map(async (coins, m) => {
      const client = new BankClient({ baseUrl: b.url, token: b.merchantTokens[m]!, timeoutMs: 300_000 });
      for (let i = 0; i < coins.length; i += batch) {
        const res = await client.deposit({ suite: SUITE, batchId: `bench-${m}-${i}`, transcripts: coins.slice(i, i + batch) });
        const bad = res.results.find((r) => r.outcome !== 'credited');
        if (bad !== undefined) throw new Error(`a bench deposit was not credited: ${bad.outcome} ${bad.code ?? ''} ${bad.message ?? ''}`);
        credited += res.results.length;
      }
    }),
  );
  return credited;
}

/** Space per table (indexes with their table), for the breakdown of the storage figure. */
async function tableBytes(kind: DbKind, b: Bench): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (kind === 'sqlite') {
    await b.storage.sizeBytes(); // checkpoints the WAL into the file
    const db = new Database(b.location, { readonly: true });
    try {
      const rows = db
        .prepare(
          'SELECT s.name AS name, m.tbl_name AS tbl, SUM(s.pgsize) AS bytes FROM dbstat s JOIN sqlite_schema m ON m.name = s.name GROUP BY s.name',
        )
        .all() as {
        name: string;
        tbl: string;
        bytes: number;
      }[];
      for (const r of rows) out[r.tbl] = (out[r.tbl] ?? 0) + r.bytes;
    } finally {
      db.close();
    }
    return out;
  }
  await withPg(async (client) => {
    const res = await client.query<{ name: string; bytes: string }>(
      `SELECT COALESCE(p.relname, c.relname) AS name, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
       WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [b.schema],
    );
    for (const r of res.rows) out[r.name] = (out[r.name] ?? 0) + Number(r.bytes);
  });
  return out;
}

/** PostgreSQL: VACUUM ANALYZE every table, so dead row versions of updated rows are reusable space. */
async function vacuum(b: Bench): Promise<void> {
  await withPg(async (client) => {
    await client.query(`SET search_path TO ${b.schema}`);
    await client.query('VACUUM ANALYZE');
  });
}

// ------------------------------------------------------------------------------ withdrawals

const pct = (x: unknown): string => `${round((x as number) * 100, 0)}%`;

/**
 * Withdrawals on `kind`: on SQLite with the cards' math and without; on PostgreSQL without only,
 * to show what a database that commits concurrent transactions together changes.
 */
async function withdrawals(ctx: BenchContext, cfg: Config, dir: string, fsync: number, kind: DbKind): Promise<Figures> {
  const G = getGroup(SUITE);
  const b = await openBench(kind, dir, BANK_THREADS);
  try {
    const secret = bankKey(G, seededRandom(KEY_SEED));
    const keyJson = keyToJson(G, secret.key);
    const rng = seededRandom('bench/bank/cards');
    const accounts: { token: string; I: string; z: string }[] = [];
    const accountIds: string[] = [];
    for (let k = 0; k < cfg.withdrawAccounts; k++) {
      const card = openAccount(G, `bench-holder-${k}`, rng);
      const opened = await b.service.openAccount(card.holder, card.I, card.opening.proof);
      await b.service.cashIn(
        opened.accountId,
        secret.key.currency,
        secret.key.value * (cfg.coinsPerAccount * 2 + cfg.withdrawAccounts * cfg.coinsPerAccount) * (cfg.runs + 1),
        'bench',
      );
      accounts.push({ token: opened.credential, I: toHex(G.encode(card.I)), z: opened.z.find((z) => z.keyId === keyJson.keyId)!.z });
      accountIds.push(opened.accountId);
    }
    const coinsPerRun = cfg.withdrawAccounts * cfg.coinsPerAccount;
    // The card threads, kept for every run (a fresh thread's first coins run cold).
    const per = Math.ceil(accounts.length / THREADS);
    const workers = Array.from({ length: THREADS }, (_, i) =>
      spawn({
        task: 'withdraw',
        suite: SUITE,
        baseUrl: b.url,
        key: keyJson,
        accounts: accounts.slice(i * per, (i + 1) * per),
        coinsPerAccount: cfg.coinsPerAccount,
      }),
    );
    const f: Figures = {};
    const sfx = kind === 'sqlite' ? '' : '_postgres';
    try {
      await Promise.all(workers.map(nextReply)); // ready
      const once = async (blind: boolean) => {
        const done = workers.map(nextReply);
        for (const w of workers) w.postMessage({ blind } satisfies WithdrawGo);
        const n = (await Promise.all(done)).reduce((s, r) => s + ('withdrawn' in r ? r.withdrawn : 0), 0);
        if (n !== coinsPerRun) throw new Error(`withdrew ${n} coins, expected ${coinsPerRun}`);
      };
      // Untimed: warms every path up, and checks every answer of this bank (completeWithdrawal).
      await once(true);

      // The service alone, in process and one coin at a time: its CPU per coin (the offer's
      // exponentiations, encodings, SQL) against its wall time, the difference being commit waits.
      const serviceCoins = Math.max(4, Math.round(coinsPerRun / 4));
      const serviceCpu: number[] = [];
      const serviceWall: number[] = [];
      for (let r = 0; r < cfg.runs; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < serviceCoins; i++) {
          const session = await b.service.startWithdrawal(accountIds[0]!, secret.key.keyId);
          await b.service.answerWithdrawal(accountIds[0]!, session.sessionId, randomScalar(G, systemRandom));
        }
        const c = process.cpuUsage(c0);
        serviceWall.push(((performance.now() - t0) * 1000) / serviceCoins);
        serviceCpu.push((c.user + c.system) / serviceCoins);
      }
      f[`withdraw_service_cpu_us_per_coin${sfx}`] = round(median(serviceCpu), 0);
      f[`withdraw_service_wall_us_per_coin${sfx}`] = round(median(serviceWall), 0);
      ctx.log(
        `   ${kind}: the service alone in process, one coin at a time: ${f[`withdraw_service_wall_us_per_coin${sfx}`]} µs/coin, of which CPU ${f[`withdraw_service_cpu_us_per_coin${sfx}`]} µs ` +
          `(the rest is waiting: for commits, or for a core on a busy machine)`,
      );

      const modes =
        kind === 'sqlite'
          ? ([
              ['withdraw', false],
              ['withdraw_with_card_math', true],
            ] as const)
          : ([['withdraw', false]] as const);
      for (const [name, blind] of modes) {
        const samples: Sample[] = [];
        for (let r = 0; r < cfg.runs; r++) samples.push(await measure(() => once(blind)));
        f[`${name}_coins_per_s${sfx}`] = round(median(samples.map((s) => (coinsPerRun * 1000) / s.wallMs)), 0);
        f[`${name}_bank_main_thread_us_per_coin${sfx}`] = round(median(samples.map((s) => (s.mainMs * 1000) / coinsPerRun)), 0);
        f[`${name}_process_cpu_us_per_coin${sfx}`] = round(median(samples.map((s) => (s.processMs * 1000) / coinsPerRun)), 0);
        f[`${name}_bank_main_thread_busy${sfx}`] = round(median(samples.map((s) => s.mainMs / s.wallMs)), 2);
        f[`${name}_machine_cpu_busy${sfx}`] = round(median(samples.map((s) => s.machineBusy)), 2);
        f[`${name}_process_cores${sfx}`] = round(median(samples.map((s) => s.processMs / s.wallMs)), 2);
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const at = (name: string) => f[`${name}${sfx}`] as number;
    const main = at('withdraw_bank_main_thread_us_per_coin');
    const busy = at('withdraw_bank_main_thread_busy');
    const machine = at('withdraw_machine_cpu_busy');
    const process_ = at('withdraw_process_cpu_us_per_coin');
    const cpu = at('withdraw_service_cpu_us_per_coin');
    const wall = at('withdraw_service_wall_us_per_coin');
    ctx.log(
      `   withdrawals on ${kind} (${cfg.withdrawAccounts} cards at once over HTTP, ${coinsPerRun} coins a run, the cards' math elsewhere): ${at('withdraw_coins_per_s')} coins/s; ` +
        `bank main thread ${main} µs/coin, busy ${pct(busy)}; process CPU ${process_} µs/coin; machine ${pct(machine)} busy`,
    );
    const who =
      busy >= 0.85
        ? `the bank's main thread, busy ${pct(busy)} of the time`
        : machine >= 0.85
          ? `the machine's ${availableParallelism()} cores (${pct(machine)} busy): besides the bank's main thread, the card threads' HTTP clients and the rest of this process take ${Math.max(0, process_ - main)} µs per coin${kind === 'postgres' ? ', and PostgreSQL the rest' : ''}`
          : `not the bank's main thread (busy ${pct(busy)} of the time) but the cards' round trips (each waits for two commits per coin)`;
    ctx.log(
      `   → limit: ${who}. The main thread spends ${main} µs per coin under load; the service alone, one coin at a time, used ${cpu} µs of CPU ` +
        `(the offer's exponentiations, encodings, SQL) and waited ${Math.max(0, wall - cpu)} µs beyond it: its commits${kind === 'sqlite' ? ` (the group fsync, ${fsync} ms on this disk)` : ''} or a busy core, not split`,
    );
    if (kind === 'sqlite') {
      f.withdraw_accounts = cfg.withdrawAccounts;
      f.withdraw_coins_per_run = coinsPerRun;
      ctx.log(
        `   with the cards' blinding on the same cores: ${f.withdraw_with_card_math_coins_per_s} coins/s (process CPU ${f.withdraw_with_card_math_process_cpu_us_per_coin} µs/coin, ` +
          `${f.withdraw_with_card_math_process_cores} cores; bank main thread busy ${pct(f.withdraw_with_card_math_bank_main_thread_busy)}; machine ${pct(f.withdraw_with_card_math_machine_cpu_busy)} busy)`,
      );
    }
    return f;
  } finally {
    await b.close();
  }
}

// --------------------------------------------------------------------------------- deposits

/**
 * CPU time per coin of a deposit check's two halves on one thread (what each verification worker
 * does): parsing the wire transcript (its binary encoding rebuilt from the JSON's hex, then the
 * strict decoding of those bytes, the ones the bank books) and the batch verification, over up to
 * 256 of the minted coins. Median of `runs` passes.
 */
function checkCpu(coins: TranscriptJson[][], runs: number): Figures {
  const G = getGroup(SUITE);
  const key = bankKey(G, seededRandom(KEY_SEED)).key;
  const sample = coins.flat().slice(0, 256);
  const cpuUs = (fn: () => void): number => {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / sample.length;
  };
  const parse: number[] = [];
  const verify: number[] = [];
  for (let r = 0; r <= runs; r++) {
    let parsed: { key: typeof key; transcript: Transcript }[] = [];
    const p = cpuUs(() => void (parsed = sample.map((t) => ({ key, transcript: decodeTranscript(G, transcriptBytesFromJson(G, t)) }))));
    const v = cpuUs(() => {
      if (batchVerifyTranscripts(G, parsed).length !== 0) throw new Error('a minted coin does not verify');
    });
    if (r === 0) continue; // warm-up
    parse.push(p);
    verify.push(v);
  }
  return { deposit_parse_cpu_us_per_coin: round(median(parse), 0), deposit_batch_verify_cpu_us_per_coin: round(median(verify), 0) };
}

async function deposits(ctx: BenchContext, cfg: Config, dir: string, kind: DbKind, coins: TranscriptJson[][]): Promise<Figures> {
  const f: Figures = {};
  const perMerchant = Math.ceil(cfg.throughputCoins / MERCHANTS.length);
  const subset = coins.map((c) => c.slice(0, perMerchant));
  const n = subset.reduce((s, c) => s + c.length, 0);
  const samples: Sample[] = [];
  for (let r = 0; r < cfg.runs; r++) {
    const b = await openBench(kind, dir, BANK_THREADS);
    try {
      let credited = 0;
      samples.push(await measure(async () => void (credited = await depositAll(b, subset, cfg.batch))));
      if (credited !== n) throw new Error(`credited ${credited} of ${n} deposits`);
      const audit = await b.service.audit();
      if (audit.keys[0]?.deposited !== n) throw new Error(`the audit counts ${audit.keys[0]?.deposited} spent coins, expected ${n}`);
    } finally {
      await b.close();
    }
  }
  f[`deposit_coins_per_s_${kind}`] = round(median(samples.map((s) => (n * 1000) / s.wallMs)), 0);
  f[`deposit_${kind}_bank_main_thread_us_per_coin`] = round(median(samples.map((s) => (s.mainMs * 1000) / n)), 0);
  f[`deposit_${kind}_bank_main_thread_busy`] = round(median(samples.map((s) => s.mainMs / s.wallMs)), 2);
  f[`deposit_${kind}_process_cpu_us_per_coin`] = round(median(samples.map((s) => (s.processMs * 1000) / n)), 0);
  f[`deposit_${kind}_machine_cpu_busy`] = round(median(samples.map((s) => s.machineBusy)), 2);
  f[`deposit_${kind}_process_cores`] = round(median(samples.map((s) => s.processMs / s.wallMs)), 2);
  f[`deposit_${kind}_coins_per_run`] = n;

  // The storage figure: exactly cfg.deposits coins, through the same path, into one fresh database.
  const forStorage = trimTo(coins, cfg.deposits);
  const b = await openBench(kind, dir, BANK_THREADS);
  try {
    if (kind === 'postgres') await vacuum(b);
    const before = await b.storage.sizeBytes();
    const tablesBefore = await tableBytes(kind, b);
    const total = forStorage.reduce((s, c) => s + c.length, 0);
    ctx.log(`   ${kind}: depositing ${total} coins for the storage figure…`);
    const fill = await measure(async () => {
      const credited = await depositAll(b, forStorage, cfg.batch);
      if (credited !== total) throw new Error(`credited ${credited} of ${total} deposits`);
    });
    if (kind === 'postgres') await vacuum(b);
    const after = await b.storage.sizeBytes();
    const tablesAfter = await tableBytes(kind, b);
    f[`deposit_bytes_per_coin_${kind}`] = round((after - before) / total, 0);
    f[`deposit_bytes_${kind}_deposits`] = total;
    f[`deposit_fill_coins_per_s_${kind}`] = round((total * 1000) / fill.wallMs, 0);
    const byTable: Figures = {};
    for (const [t, bytes] of Object.entries(tablesAfter).sort((x, y) => y[1] - x[1])) {
      const grown = (bytes - (tablesBefore[t] ?? 0)) / total;
      if (Math.abs(grown) >= 0.5) byTable[t] = round(grown, 0);
    }
    f[`deposit_bytes_per_coin_${kind}_by_table`] = byTable;
    f.deposit_transcript_bytes = transcriptBytesFromJson(getGroup(SUITE), forStorage[0]![0]).length;
  } finally {
    await b.close();
  }
  logDeposits(ctx, kind, f, cfg);
  return f;
}

function logDeposits(ctx: BenchContext, kind: DbKind, f: Figures, cfg: Config): void {
  const busy = f[`deposit_${kind}_machine_cpu_busy`] as number;
  const cores = f[`deposit_${kind}_process_cores`] as number;
  const main = f[`deposit_${kind}_bank_main_thread_busy`] as number;
  const limit =
    main >= 0.85
      ? "the bank's main thread (HTTP parsing, the request hash, the SQL transaction) is busy all the time"
      : busy >= 0.85
        ? `the machine's ${availableParallelism()} cores are busy: this process (parsing and verification in ${BANK_THREADS} threads, the main thread) uses ${cores} of them, the rest is ${kind === 'postgres' ? 'PostgreSQL and ' : ''}other work on the machine`
        : 'neither the main thread nor the cores are saturated: waits (fsync, locks, round trips) limit it';
  const tables = Object.entries(f[`deposit_bytes_per_coin_${kind}_by_table`] as Figures)
    .map(([t, v]) => `${t} ${v}`)
    .join(', ');
  ctx.log(
    `   deposits (${kind}, ${MERCHANTS.length} merchants × batches of ${cfg.batch}, ${f[`deposit_${kind}_coins_per_run`]} coins a run): ${f[`deposit_coins_per_s_${kind}`]} coins/s; ` +
      `main thread ${f[`deposit_${kind}_bank_main_thread_us_per_coin`]} µs/coin (busy ${pct(main)}), process CPU ${f[`deposit_${kind}_process_cpu_us_per_coin`]} µs/coin (${cores} cores), ` +
      `machine ${pct(busy)} busy → limit: ${limit}`,
  );
  ctx.log(
    `   storage (${kind}): ${f[`deposit_bytes_per_coin_${kind}`]} bytes per coin after ${f[`deposit_bytes_${kind}_deposits`]} deposits (${tables}); ` +
      `a spent coin's row is its coin id (32 bytes), the key number, the credited flag and the ${f.deposit_transcript_bytes}-byte binary transcript, plus ${kind === 'sqlite' ? 'B-tree' : 'tuple headers, the index on the coin id and'} page slack; ` +
      `the fill ran at ${f[`deposit_fill_coins_per_s_${kind}`]} coins/s`,
  );
}

export const bankBench: BenchModule = {
  name: 'bank',
  async run(ctx) {
    const cfg = config(ctx.quick);
    const dir = mkdtempSync(join(tmpdir(), 'ecash-bench-bank-'));
    const f: Figures = {};
    try {
      // The machine is shared: how loaded it was when the bank bench began, to read the figures by.
      f.bank_bench_load_avg_1m = round(loadavg()[0]!, 2);
      f.bank_runs = cfg.runs;
      f.fsync_ms = round(fsyncMs(dir, ctx.quick ? 5 : 50), 3);
      ctx.log(
        `   load average ${f.bank_bench_load_avg_1m} on ${availableParallelism()} cores; appending 4 KiB + fsync in ${tmpdir()}: ${f.fsync_ms} ms (the floor of one durable SQLite commit: a withdrawal step, a deposit batch)`,
      );
      Object.assign(f, await withdrawals(ctx, cfg, dir, f.fsync_ms, 'sqlite'));
      if (pgBaseUrl() !== undefined) Object.assign(f, await withdrawals(ctx, cfg, dir, f.fsync_ms, 'postgres'));

      const count = Math.max(cfg.deposits, cfg.throughputCoins);
      ctx.log(`   minting ${count} distinct coins in ${THREADS} threads…`);
      const t0 = performance.now();
      const coins = await mintCoins(count);
      f.bench_mint_coins_per_s = round((count * 1000) / (performance.now() - t0), 0);
      ctx.log(`   minted at ${f.bench_mint_coins_per_s} coins/s (signed directly with the key's secret instead of blind withdrawals)`);
      Object.assign(f, checkCpu(coins, cfg.runs));
      ctx.log(
        `   a deposit check on one thread: parsing ${f.deposit_parse_cpu_us_per_coin} µs + batch verification ${f.deposit_batch_verify_cpu_us_per_coin} µs of CPU per coin ` +
          `→ estimated from these, at most ${round((1e6 * BANK_THREADS) / ((f.deposit_parse_cpu_us_per_coin as number) + (f.deposit_batch_verify_cpu_us_per_coin as number)), 0)} coins/s on ${BANK_THREADS} idle cores before HTTP and storage`,
      );
      Object.assign(f, await deposits(ctx, cfg, dir, 'sqlite', coins));
      if (pgBaseUrl() === undefined) {
        const reason = 'no PostgreSQL: set ECASH_BENCH_PG_URL or ECASH_TEST_PG_URL (postgres://user:password@host:port/database)';
        Object.assign(
          f,
          unmeasured('withdraw_coins_per_s_postgres', reason),
          unmeasured('deposit_coins_per_s_postgres', reason),
          unmeasured('deposit_bytes_per_coin_postgres', reason),
        );
        ctx.log(`   withdrawals and deposits (postgres): not measured, ${reason}`);
      } else {
        Object.assign(f, await deposits(ctx, cfg, dir, 'postgres', coins));
      }
      return f;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
