import { describe, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import { ExchangeQueue } from '../../reader-bridge/exchange-queue.js';
import { BRIDGE_ERROR, parseTimeoutSpec, resolveTimeouts, DEFAULT_TIMEOUTS } from '../../reader-bridge/index.js';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

describe('ExchangeQueue', () => {
  it('runs exchanges one at a time, in call order', async () => {
    const q = new ExchangeQueue('R');
    const log: string[] = [];
    const a = q.run(async () => (log.push('a start'), await later(30, 0), log.push('a end')), 1000);
    const b = q.run(async () => (log.push('b start'), log.push('b end')), 1000);
    await Promise.all([a, b]);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('times an exchange out, and makes the next one wait for the late card', async () => {
    const q = new ExchangeQueue('R');
    const log: string[] = [];
    const slow = q.run(async () => (await later(80, 0), log.push('slow done')), 20);
    await expect(slow).rejects.toSatisfy((e) => isEcashError(e, BRIDGE_ERROR.CARD_TIMEOUT));
    const next = await q.run(async () => (log.push('next'), 'ok'), 1000);
    expect(next).toBe('ok');
    expect(log).toEqual(['slow done', 'next']);
  });

  it('counts the wait behind a stuck exchange in the budget', async () => {
    const q = new ExchangeQueue('R');
    void q.run(() => later(200, 0), 1000);
    await expect(q.run(async () => 'never in time', 30)).rejects.toSatisfy((e) => isEcashError(e, BRIDGE_ERROR.CARD_TIMEOUT));
  });

  // A budget that is no budget is the caller's mistake, not a card that did not answer: it was
  // card-timeout, which the POS terminal retries as a card that left the field.
  it('refuses a budget that is not a positive number with bad-timeout, running nothing', async () => {
    const q = new ExchangeQueue('R');
    let ran = false;
    for (const budget of [0, -5, Number.NaN]) {
      await expect(q.run(async () => (ran = true), budget)).rejects.toSatisfy((e) => isEcashError(e, 'bad-timeout'));
    }
    expect(ran).toBe(false);
  });
});

describe('time budgets', () => {
  it('merges overrides into the defaults and parses them from the command line', () => {
    expect(resolveTimeouts({ payment: 9000 })).toEqual({ ...DEFAULT_TIMEOUTS, payment: 9000 });
    expect(parseTimeoutSpec('payment=8000, withdrawal=30000')).toEqual({ payment: 8000, withdrawal: 30000 });
    expect(() => parseTimeoutSpec('pay=10')).toThrow(/class=ms/);
    expect(() => resolveTimeouts({ control: 0 })).toThrow(/positive/);
  });
});
