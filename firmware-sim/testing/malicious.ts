/**
 * TEST ONLY: tampered cards, to show that the bank and the terminals catch them.
 *
 * - The double-spending card pays twice with one coin. Its applet answers PAY like the honest one
 *   but never erases the coin's secrets, so the next payment picks the same coin again with a new
 *   challenge — exactly the double spend the bank must detect and attribute (docs/protocol.md,
 *   "Deposit").
 * - The lying card pays with whatever coins make the amount, ignoring the keys and currency the
 *   terminal offered (a transit-only coin at a general shop, a coin whose deposit deadline is too
 *   near, a coin of another currency), and its GET BALANCE presents every coin as general money
 *   in the currency it poses in, deposit deadline a year away. A terminal must take a coin's
 *   terms from its own key list and decline such a payment.
 *
 * They live behind this separate entry point, are not exported from firmware-sim's index, are
 * reachable from the `ecash` command only as the simulator's double-spending card (host/sim, for
 * testing what a cash register and the bank do with it), and each asks for an explicit acknowledgement.
 */
import { EcashError, type RandomSource } from '../../core/index.js';
import { CLA_ECASH, decodeBalance, ECASH_INS, encodeBalance, type CommandCost, type PayRequest } from '../../wire/index.js';
import { EcashApplet, type CoinChoice, type CoinToSpend, type DecodedCoins, type HeldDenomination } from '../applet/ecash-applet.js';
import {
  cardOnDevice,
  formatDevice,
  personaliseCard,
  type AppletFactory,
  type CardOptions,
  type CreateCardOptions,
  type EcashCard,
} from '../card.js';
import { DEFAULT_CAPACITY } from '../memory/layout.js';
import { RamNvm } from '../memory/nvm.js';
import type { WalletStore } from '../memory/wallet-store.js';
import type { AppletCommand } from '../runtime.js';

class DoubleSpendingApplet extends EcashApplet {
  /** Keeps s, x1, x2: the coin stays spendable after it has been paid. */
  protected override spendCoin(spend: CoinToSpend, seq: number, position: number): void {
    void spend;
    void seq;
    void position;
  }
}

const YEAR = 365 * 24 * 3600 * 1000;

class LyingApplet extends EcashApplet {
  constructor(
    store: WalletStore,
    rng: RandomSource,
    decodedCoins: DecodedCoins,
    private readonly posing: { currency: string },
  ) {
    super(store, rng, decodedCoins);
  }

  /** Any of its coins that make the amount, whatever keys and currency the terminal offered. */
  protected override chooseCoins(held: readonly HeldDenomination[], req: PayRequest): CoinChoice[] {
    return this.coinsForAmount(held, req.amount);
  }

  /** GET BALANCE as the honest card answers it, every coin dressed up as general money. */
  override process(cmd: AppletCommand, cost: CommandCost): Uint8Array {
    const answer = super.process(cmd, cost);
    if (cmd.cla !== CLA_ECASH || cmd.ins !== ECASH_INS.GET_BALANCE) return answer;
    return encodeBalance(
      decodeBalance(answer).map((e) => ({ ...e, currency: this.posing.currency, scope: '', depositUntil: Date.now() + YEAR })),
    );
  }
}

async function personalisedInMemory(opts: CreateCardOptions & CardOptions, applet: AppletFactory): Promise<EcashCard> {
  const device = new RamNvm(opts.capacity ?? DEFAULT_CAPACITY);
  formatDevice(device);
  const card = cardOnDevice(device, opts, applet);
  await personaliseCard(card, opts);
  return card;
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
  return personalisedInMemory(opts, (store, rng, decodedCoins) => new DoubleSpendingApplet(store, rng, decodedCoins));
}

export interface TamperedCardOptions extends CreateCardOptions, CardOptions {
  /** The currency its GET BALANCE claims for every coin. */
  posingAs: { currency: string };
  /** Must be the literal string below: this card cheats, and is for testing detection only. */
  acknowledge: 'this card lies about its coins';
}

/** A personalised in-memory card that pays with coins the terminal did not offer, and lies about them. */
export async function createTamperedCard(opts: TamperedCardOptions): Promise<EcashCard> {
  if (opts.acknowledge !== 'this card lies about its coins') {
    throw new EcashError('not-acknowledged', 'the lying card is for detection tests only: acknowledge it explicitly');
  }
  return personalisedInMemory(opts, (store, rng, decodedCoins) => new LyingApplet(store, rng, decodedCoins, opts.posingAs));
}
