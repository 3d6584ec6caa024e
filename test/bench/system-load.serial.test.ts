/**
 * A shortened `npm run load` (bench/system-load.ts): cards withdrawing and terminals paying and
 * settling at once, with a cloned card and a settlement whose answer is lost, ending with the
 * count check and the audit (also `ecash bank audit` itself), on SQLite and on PostgreSQL.
 * Serial: the PostgreSQL run uses the shared test database (in a schema of its own).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runSystemLoad, type SystemLoadReport } from '../../bench/system-load.js';
import { postgresUrl, requireService } from '../helpers/env.js';

const SHORT = { cards: 4, terminals: 3, payments: 3, doubleSpendShare: 0.25, interruptedShare: 0.34, seconds: 120 } as const;

function expectBooksBalance(r: SystemLoadReport): void {
  expect(r.problems).toEqual([]);
  expect(r.auditOk).toBe(true);
  expect(r.doubleSpendsExpected).toBe(1);
  expect(r.doubleSpendsRecorded).toBe(1);
  expect(r.interruptedSettlements).toBe(1);
  expect(r.operations.withdrawal.count).toBe(SHORT.cards);
  // Every card pays each of its payments, and the clone pays once more.
  expect(r.coinsPaid).toBe(SHORT.cards * SHORT.payments + 1);
  expect(r.operations.payment.count).toBe(r.coinsPaid);
  expect(r.valueCredited).toBeGreaterThan(0);
}

describe('the system under a short load', () => {
  it('on SQLite ends with every merchant credited once per coin and the audit balanced', { timeout: 240_000 }, async () => {
    expectBooksBalance(await runSystemLoad(SHORT));
  });

  const pgBase = postgresUrl();
  it.runIf(requireService(pgBase !== undefined, 'PostgreSQL (ECASH_TEST_PG_URL)'))(
    'on PostgreSQL likewise',
    { timeout: 240_000 },
    async () => {
      const schema = `load_${randomBytes(6).toString('hex')}`;
      const db = `${pgBase}${pgBase!.includes('?') ? '&' : '?'}schema=${schema}`;
      try {
        expectBooksBalance(await runSystemLoad({ ...SHORT, db }));
      } finally {
        const c = new pg.Client({ connectionString: pgBase });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
    },
  );
});
