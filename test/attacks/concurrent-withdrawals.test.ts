/**
 * Attack (by an account holder who wants more coins than it pays for): run many withdrawal
 * sessions on one account at once. With enough parallel open sessions under one key the ROS
 * attack solves for challenges that yield one valid coin more than the sessions answered (256
 * parallel sessions gave 257 coins in a published test). A variant: get one session to answer two
 * challenges, which gives two coins for one debit and, from the two answers on one w, the bank's
 * key itself: x = (r1 − r2)/(c1 − c2).
 *
 * Defences: the bank keeps at most one open session per account (host/bank/storage: the partial
 * unique index `one_open_session_per_account` and the `ON CONFLICT … DO NOTHING` insert of
 * BankTransaction `insertOpenSession`), so a second start is `409
 * session-open`, also when the requests race; a session answers once (the service's
 * `answerWithdrawal` locks it, marks it answered and debits in one transaction; another c is
 * `409 session-answered`, the same c gets the same r). These passed on main's code, the defence
 * existing; checked by taking out the one-open-session rule (the unique index and the
 * `ON CONFLICT` clause): the HTTP tests then failed (every concurrent start opened a session). The
 * core test is moved from test/core/attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BankWithdrawalSession, fromHex, randomScalar, SUITE_IDS, seededRandom, toHex } from '../../core/index.js';
import type { WithdrawalStartJson } from '../../host/bank-client/index.js';
import { expectCode } from '../core/expect-code.js';
import { ADAPTERS, newHolder, withdrawCoin } from '../bank/http-fixture.js';
import { equations, useAttackBank } from './helpers.js';

describe.each(SUITE_IDS)('%s: one session, one answer', (suite) => {
  it("a withdrawal session answers once; two answers on one w would reveal the bank's key", () => {
    const { G, F, rng, bank, alice } = equations(suite);
    const session = BankWithdrawalSession.offer(G, bank, alice.I, rng);
    const state = session.persistentState();
    const [c1, c2] = [randomScalar(G, rng), randomScalar(G, rng)];
    const r1 = session.answer(c1);
    expectCode(() => session.answer(c2), 'session-answered');
    // Why: storage that restored the same open session twice would answer twice, and then
    // x = (r1 − r2)/(c1 − c2). The bank's storage must mark the session answered atomically.
    const r2 = BankWithdrawalSession.restore(G, bank, state).answer(c2);
    expect(F.mul(F.sub(r1, r2), F.inv(F.sub(c1, c2)))).toBe(bank.x);
  });
});

describe.each(ADAPTERS)('concurrent withdrawal sessions at the bank on $kind', ({ kind, available }) => {
  const world = useAttackBank(kind, available);

  describe.skipIf(!available)('', () => {
    it('refuses a second session while one is open, and opens the next once it is answered or cancelled', async () => {
      const { bank } = world;
      const holder = await newHolder(bank, 'ros-1', 5_000);
      const keyId = toHex(bank.key.key.keyId);
      const first = await holder.client.startWithdrawal(keyId);
      await expect(holder.client.startWithdrawal(keyId)).rejects.toMatchObject({ code: 'session-open', status: 409 });
      await expect(holder.client.startWithdrawal(toHex(bank.small.key.keyId))).rejects.toMatchObject({ code: 'session-open' });
      await holder.client.cancelWithdrawal(first.sessionId);
      await withdrawCoin(bank, holder);
      await withdrawCoin(bank, holder);
      expect((await holder.client.account(holder.opened.accountId)).balances).toEqual([{ currency: 'EUR', balance: 5_000 - 2 * 500 }]);
    });

    it('lets exactly one of 16 racing starts on one account open a session (and sessions of other accounts go on in parallel)', async () => {
      const { bank } = world;
      const holder = await newHolder(bank, 'ros-2', 5_000);
      const others = await Promise.all([1, 2, 3].map((i) => newHolder(bank, `ros-other-${i}`, 1_000)));
      const keyId = toHex(bank.key.key.keyId);
      const [mine, theirs] = await Promise.all([
        Promise.allSettled(Array.from({ length: 16 }, () => holder.client.startWithdrawal(keyId))),
        Promise.allSettled(others.map((o) => o.client.startWithdrawal(keyId))),
      ]);
      const opened = mine.filter((r) => r.status === 'fulfilled');
      expect(opened).toHaveLength(1);
      for (const r of mine) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'session-open', status: 409 });
      }
      expect(theirs.every((r) => r.status === 'fulfilled')).toBe(true);
      // The one session answers one challenge; the account pays one coin.
      const session = (opened[0] as PromiseFulfilledResult<WithdrawalStartJson>).value;
      const c = toHex(bank.group.scalars.encode(randomScalar(bank.group, seededRandom(`c-${kind}`))));
      const { r } = await holder.client.answerWithdrawal(session.sessionId, c);
      expect((await holder.client.answerWithdrawal(session.sessionId, c)).r).toBe(r);
      const other = toHex(bank.group.scalars.encode(bank.group.scalars.add(bank.group.scalars.decode(fromHex(c)), 1n)));
      await expect(holder.client.answerWithdrawal(session.sessionId, other)).rejects.toMatchObject({
        code: 'session-answered',
        status: 409,
      });
      expect((await holder.client.account(holder.opened.accountId)).balances).toEqual([{ currency: 'EUR', balance: 5_000 - 500 }]);
      expect((await bank.service.audit()).ok).toBe(true);
    });
  });
});
