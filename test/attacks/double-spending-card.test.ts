/**
 * Attack (by a card holder with a tampered card): pay twice with one coin. The test-only
 * double-spending card (firmware-sim/testing/malicious.ts) answers PAY like the honest one but
 * never erases the coin's secrets, so it pays two shops with the same coin; each shop's terminal,
 * offline, sees a valid coin and approves.
 *
 * Defence: at deposit the bank finds A already spent with another challenge d, recovers
 * u1 = (r1 − r1')/(r2 − r2'), names the account whose I = g1^u1 and keeps both transcripts as a
 * proof anyone can check with the public key alone (core/double-spend.ts; host/bank/service.ts
 * `deposit`, host/bank/deposit-booking.ts `bookDepositBatch`). The second shop's settlement reports the double spend. These
 * passed on main's code, the defence existing; checked by making the booking answer every second
 * deposit of a spent coin as a replay: the end-to-end tests then failed. The firmware-level test
 * is moved from test/firmware/malicious.test.ts; the end-to-end one is new (cards in the virtual
 * reader, POS terminals, the bank over HTTP on SQLite and on PostgreSQL).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  classifyDeposit,
  getGroup,
  identifyDoubleSpender,
  keyFromJson,
  keyToJson,
  makeDoubleSpendProof,
  proofFromJson,
  toHex,
  verifyDoubleSpendProof,
  verifyTranscript,
} from '../../core/index.js';
import { paymentTranscripts } from '../../wire/index.js';
import { createDoubleSpendingCard } from '../../firmware-sim/testing/malicious.js';
import * as firmware from '../../firmware-sim/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { pay, paymentContext, PIN, PUK, select, TestBank, verifyPin } from '../firmware-sim/helpers.js';
import { ADAPTERS } from '../bank/http-fixture.js';
import { testDb, type TestDb } from '../bank/helpers.js';
import { loadViaReader, payWithCard, PIN as WORLD_PIN, PUK as WORLD_PUK, World } from '../helpers/world.js';

describe('the double-spending card (test only)', () => {
  it('cannot be made by accident: not in the public face, and it wants an acknowledgement', async () => {
    expect(Object.keys(firmware).some((k) => /double|malicious/i.test(k))).toBe(false);
    await expect(createDoubleSpendingCard({ pin: PIN, puk: PUK, acknowledge: 'yes' as never })).rejects.toMatchObject({
      code: 'not-acknowledged',
    });
  });

  it('pays twice with one coin, and the bank identifies its account', async () => {
    const suite = 'p256-uprove';
    const group = getGroup(suite);
    const card = await createDoubleSpendingCard({ suite, pin: PIN, puk: PUK, noPinLimit: 1000, acknowledge: 'this card double-spends' });
    card.powerOn();
    await select(card);
    await verifyPin(card);
    const bank = new TestBank(suite);
    await bank.open(card);
    await bank.withdraw(card, 100);
    const key = bank.key(100).key;
    const ctxA = paymentContext('shop-a');
    const ctxB = paymentContext('shop-b');
    const [t1] = paymentTranscripts(ctxA, (await pay(card, group, ctxA, key.value, [key.keyId])).paid);
    const [t2] = paymentTranscripts(ctxB, (await pay(card, group, ctxB, key.value, [key.keyId])).paid);
    expect(verifyTranscript(group, key, t1!)).toBe(true);
    expect(verifyTranscript(group, key, t2!)).toBe(true);
    expect(group.equals(t1!.coin.A, t2!.coin.A)).toBe(true);
    expect(classifyDeposit(group, t2!, t1!)).toBe('double-spend');
    const spender = identifyDoubleSpender(group, t1!, t2!);
    expect(group.equals(spender.I, bank.I!)).toBe(true);
    const proof = makeDoubleSpendProof(group, key, t1!, t2!);
    expect(() => verifyDoubleSpendProof(group, proof)).not.toThrow();
  });
});

describe.each(ADAPTERS)('the double-spending card against POS terminals and the bank on $kind', ({ kind, available }) => {
  let db: TestDb | undefined;
  let world: World;
  let readers: VirtualTransport;

  beforeEach(async () => {
    if (!available) return;
    db = kind === 'postgres' ? testDb(kind) : undefined;
    world = new World();
    await world.startBank(undefined, db === undefined ? {} : { storage: db.url });
    readers = new VirtualTransport(['Shop A', 'Shop B', 'Load']);
  });
  afterEach(async () => {
    await readers?.close();
    await world?.close();
    await db?.dispose();
  });

  it.skipIf(!available)(
    'pays two shops offline with one coin; the second settlement is a double spend naming the holder, with a proof checked on public data only',
    async () => {
      const shopA = await world.addMerchant('shop-a');
      const shopB = await world.addMerchant('shop-b');
      const card = await createDoubleSpendingCard({
        suite: world.suite,
        pin: WORLD_PIN,
        puk: WORLD_PUK,
        noPinLimit: 100_000,
        acknowledge: 'this card double-spends',
      });
      const mallory = await loadViaReader(world, readers, 'Load', card, 'mallory', 10_000, 500);
      const terminalA = await world.terminal(readers, { merchantId: 'shop-a', bank: shopA }, { readerName: 'Shop A', terminalId: 'a-1' });
      const terminalB = await world.terminal(readers, { merchantId: 'shop-b', bank: shopB }, { readerName: 'Shop B', terminalId: 'b-1' });
      const atA = await payWithCard(terminalA, readers, 'Shop A', card, 500);
      const atB = await payWithCard(terminalB, readers, 'Shop B', card, 500);
      // Offline, each terminal sees a good coin: both sales are approved.
      expect([atA.state, atB.state]).toEqual(['approved', 'approved']);
      expect(terminalA.transcriptsOf(atA.id).map((t) => toHex(world.group.encode(t.coin.A)))).toEqual(
        terminalB.transcriptsOf(atB.id).map((t) => toHex(world.group.encode(t.coin.A))),
      );

      expect((await terminalA.settle()).outcomes).toEqual({ credited: atA.coins.length });
      const second = await terminalB.settle();
      expect(second.outcomes).toEqual({ 'double-spend': atB.coins.length });
      expect(second.doubleSpends).toEqual(atB.coins.map((_, index) => ({ paymentId: atB.id, index })));
      expect(terminalB.view(atB.id).settlement.map((s) => s.outcome)).toEqual(atB.coins.map(() => 'double-spend'));

      // The bank names the holder; shop B sees the record of its own deposit.
      const records = (await shopB.doubleSpends()).doubleSpends;
      expect(records).toHaveLength(atB.coins.length);
      const G = world.group;
      const published = (await shopB.parameters()).keys;
      for (const record of records) {
        expect(record).toMatchObject({ holder: 'mallory', accountId: mallory.accountId, depositor: 'shop-b' });
        // Anyone checks the proof with public data: the proof itself and the bank's published key.
        const proof = proofFromJson(G, JSON.parse(JSON.stringify(record.proof)));
        expect(() => verifyDoubleSpendProof(G, proof)).not.toThrow();
        const publicKey = published.find((k) => k.keyId === toHex(proof.key.keyId))!;
        expect(keyToJson(G, keyFromJson(G, publicKey))).toEqual(keyToJson(G, proof.key));
        expect(proof.transcripts.map((t) => t.merchantId).sort()).toEqual(['shop-a', 'shop-b']);
      }
      expect((await world.service.audit()).ok).toBe(true);
    },
  );
});
