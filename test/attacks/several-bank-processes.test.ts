/**
 * Attack (by a holder, merchant or anyone with a credential): use that the bank runs as several
 * processes on one PostgreSQL database (`ecash bank serve --processes N`, or servers behind a
 * proxy), each with its own memory.
 *
 * - Twice the rate limit: send the limit's worth of requests to each process. With counters in
 *   each process's memory (@fastify/rate-limit's default store) N processes let N times the limit
 *   through; the bank's limit is meant to be one.
 * - A revoked credential that still works: each process caches an authenticated credential for
 *   10 s; a credential revoked through one process (or the CLI) kept working on the others for
 *   that long, long enough to empty an account with a stolen token the operator has just revoked.
 *
 * Defences: the counters live in PostgreSQL (host/bank/storage/postgres-shared.ts, one upsert per
 * request on the database's clock) and a revocation is announced by NOTIFY at its commit to every
 * process, which drops the credential from its cache (BankService.authenticate). Both tests failed
 * before (10 requests of 5 went through; the revoked token was still served after the 5 s wait),
 * the two processes being two services with their own server and database pool in this process,
 * exactly what two processes hold apart (test/bank/processes.serial.test.ts runs real processes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGroup, systemRandom } from '../../core/index.js';
import { BankClient } from '../../host/bank-client/index.js';
import { type BankServer, startBankServer } from '../../host/bank/http.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { type BankStorage, openStorage } from '../../host/bank/storage/index.js';
import { bankKey, PAYMENT_TIME } from '../core/fixtures.js';
import { newAccount, testDb, type TestDb } from '../bank/helpers.js';
import { postgresUrl, requireService } from '../helpers/env.js';

const G = getGroup('ristretto255-sha512');
const LIMIT = 5;
/** Well under the credential cache's 10 s: a process that only forgets by time fails the wait. */
const REVOCATION_WAIT_MS = 5000;
const available = requireService(postgresUrl() !== undefined, 'PostgreSQL (ECASH_TEST_PG_URL)');

interface Process {
  storage: BankStorage;
  service: BankService;
  server: BankServer;
  anon: BankClient;
}

describe.skipIf(!available)('two bank processes on one PostgreSQL database', () => {
  let db: TestDb;
  const processes: Process[] = [];
  const key = bankKey(G, systemRandom, 500);

  beforeAll(async () => {
    db = testDb('postgres');
    for (let i = 0; i < 2; i++) {
      const storage = await openStorage(db.url);
      const service = await BankService.create({
        storage,
        keys: memoryKeyStore(G.suite, [key]),
        workerThreads: 0,
        now: () => PAYMENT_TIME,
      });
      const server = await startBankServer({ service, rateLimit: { max: LIMIT, timeWindowMs: 60_000 } });
      processes.push({ storage, service, server, anon: new BankClient({ baseUrl: server.url, timeoutMs: 30_000 }) });
    }
  });

  afterAll(async () => {
    for (const p of processes.splice(0)) {
      await p.server.close();
      await p.service.close();
      await p.storage.close();
    }
    await db?.dispose();
  });

  it('lets a credential through LIMIT times in all, not LIMIT times per process', async () => {
    const [a, b] = processes as [Process, Process];
    const alice = await newAccount(a.service, G, 'alice');
    let served = 0;
    let limited = 0;
    for (const p of [a, b, a, b]) {
      for (let i = 0; i < LIMIT; i++) {
        try {
          await p.anon.withToken(alice.credential).account(alice.accountId);
          served++;
        } catch (e) {
          expect(e).toMatchObject({ code: 'rate-limited', status: 429 });
          limited++;
        }
      }
    }
    expect(served).toBe(LIMIT);
    expect(limited).toBe(3 * LIMIT);
  });

  it('refuses a credential on every process once one of them has revoked it', async () => {
    const [a, b] = processes as [Process, Process];
    const bob = await newAccount(a.service, G, 'bob');
    // Both processes have authenticated (and cached) the credential.
    await a.service.authenticate(bob.credential);
    await b.service.authenticate(bob.credential);
    await a.service.revokeCredential(bob.credential.split('.')[1]!);
    await expect(a.service.authenticate(bob.credential)).rejects.toMatchObject({ code: 'unauthorized' });
    // The other process hears of it at the commit; it must not serve it until its cache runs out.
    const deadline = Date.now() + REVOCATION_WAIT_MS;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      refused = await b.service.authenticate(bob.credential).then(
        () => false,
        (e: unknown) => (e as { code?: string }).code === 'unauthorized',
      );
      // Lets the process's connections deliver what they have (the notice) before asking again.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(refused).toBe(true);
  });
});
