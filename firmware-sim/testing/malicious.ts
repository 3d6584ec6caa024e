/**
 * TEST ONLY: a tampered card that pays twice with one coin. Its applet answers PAY like the honest
 * one but never erases the coin's secrets, so the next payment picks the same coin again with a
 * new challenge — exactly the double spend the bank must detect and attribute (SCHEME.md,
 * "Deposit"). It lives behind this separate entry point, is not exported from firmware-sim's
 * index, is not reachable from the `ecash` command, and asks for an explicit acknowledgement.
 */
import { EcashError } from '../../core/index.js';
import { EcashApplet, type CoinToSpend } from '../applet/ecash-applet.js';
import { cardOnDevice, formatDevice, personaliseCard, type CardOptions, type CreateCardOptions, type EcashCard } from '../card.js';
import { DEFAULT_CAPACITY } from '../memory/layout.js';
import { RamNvm } from '../memory/nvm.js';

class DoubleSpendingApplet extends EcashApplet {
  /** Keeps s, x1, x2: the coin stays spendable after it has been paid. */
  protected override spendCoin(spend: CoinToSpend, seq: number, position: number): void {
    void spend;
    void seq;
    void position;
  }
}

export interface DoubleSpendingCardOptions extends CreateCardOptions, CardOptions {
  /** Must be the literal string below: this card cheats, and is for testing detection only. */
  acknowledge: 'this card double-spends';
}

/** A personalised in-memory card that answers twice for one coin. */
export async function createDoubleSpendingCard(opts: DoubleSpendingCardOptions): Promise<EcashCard> {
  if (opts.acknowledge !== 'this card double-spends') {
    throw new EcashError('not-acknowledged', 'the double-spending card is for detection tests only: acknowledge it explicitly');
  }
  const device = new RamNvm(opts.capacity ?? DEFAULT_CAPACITY);
  formatDevice(device);
  const card = cardOnDevice(device, opts, (store, rng, decodedCoins) => new DoubleSpendingApplet(store, rng, decodedCoins));
  await personaliseCard(card, opts);
  return card;
}
