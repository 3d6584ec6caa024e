/**
 * Attack: one card image opened twice at once. Each opener keeps its own copy of the card's memory,
 * so both see the same coins as spendable: two terminals tapping "the card" at the same time are
 * both paid with the same coins, and the bank later reports an honest holder as a double spender.
 * A card image is one card: the second opener must be refused with `card-in-use`.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import { createCardImage, openCard, type EcashCard } from '../../firmware-sim/index.js';
import { VirtualTransport } from '../../reader-bridge/index.js';
import { loadViaReader, PIN, PUK, World } from '../helpers/world.js';

let world: World;
let readers: VirtualTransport;

beforeEach(async () => {
  world = new World();
  await world.startBank();
  readers = new VirtualTransport(['Counter A', 'Counter B', 'Load']);
});

afterEach(async () => {
  await readers.close();
  await world.close();
});

it('a card image opened a second time is refused, so two taps cannot spend the same coins', async () => {
  const shopA = await world.addMerchant('shop-a');
  const shopB = await world.addMerchant('shop-b');
  const file = join(world.dir, 'wallet.card');
  await createCardImage(file, { pin: PIN, puk: PUK, noPinLimit: 100_000 });
  const first = openCard(file);
  const opened: EcashCard[] = [first];
  try {
    await loadViaReader(world, readers, 'Load', first, 'alice', 1_000, 500);

    let second: EcashCard | undefined;
    let refusal: unknown;
    try {
      second = openCard(file);
      opened.push(second);
    } catch (e) {
      refusal = e;
    }

    const tA = await world.terminal(readers, { merchantId: 'shop-a', bank: shopA }, { readerName: 'Counter A', terminalId: 'ta' });
    const tB = await world.terminal(readers, { merchantId: 'shop-b', bank: shopB }, { readerName: 'Counter B', terminalId: 'tb' });
    const a = tA.startPayment({ amount: 500, currency: 'EUR' });
    readers.insertCard('Counter A', first);
    if (second !== undefined) {
      // Today's code: the same image answers at a second counter at the same time.
      const b = tB.startPayment({ amount: 500, currency: 'EUR' });
      readers.insertCard('Counter B', second);
      const [va, vb] = await Promise.all([tA.outcome(a.id), tB.outcome(b.id)]);
      const spentTwice =
        vb.state === 'approved' &&
        va.state === 'approved' &&
        tA.transcriptsOf(a.id).some((ta) => tB.transcriptsOf(b.id).some((tb) => world.group.equals(ta.coin.A, tb.coin.A)));
      expect({ spentTwice, states: [va.state, vb.state] }, 'the same image paid two shops with the same coins').toEqual({
        spentTwice: false,
        states: ['approved', 'declined'],
      });
    }
    expect(isEcashError(refusal, 'card-in-use'), `the second open must be refused with card-in-use, got ${String(refusal)}`).toBe(true);
    expect((refusal as Error).message).toMatch(/already open in this process/);
    // The one card that is open pays normally.
    expect((await tA.outcome(a.id)).state).toBe('approved');
  } finally {
    for (const c of opened) c.close();
  }
});
