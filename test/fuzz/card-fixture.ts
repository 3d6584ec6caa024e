/**
 * A card image worth fuzzing: personalised, an account opened, coins of three values withdrawn
 * from a bank of core roles, a payment made with and one without the PIN (so the last-payment
 * record, spent slots, the log and the cumulative no-PIN amount all hold something).
 */
import { seededRandom, type SuiteId } from '../../core/index.js';
import { cardOnDevice, formatDevice, personaliseCard, RamNvm } from '../../firmware-sim/index.js';
import { pay, paymentContext, PIN, PUK, select, TestBank, verifyPin } from '../firmware-sim/helpers.js';

export const CARD_SUITE: SuiteId = 'ristretto255-sha512';
export const CARD_CAPACITY = 20 * 1024;
export const NO_PIN_LIMIT = 300;
/** Coins the fixture withdraws, then pays 20 of them (PIN) and 5 (no PIN). */
export const FIXTURE_COINS = [100, 100, 20, 20, 5, 5] as const;

export interface WalletImage {
  image: Uint8Array;
  bank: TestBank;
}

export async function walletImage(): Promise<WalletImage> {
  const ram = new RamNvm(CARD_CAPACITY);
  formatDevice(ram);
  const card = cardOnDevice(ram, { rng: seededRandom('fuzz-card-setup') });
  await personaliseCard(card, { suite: CARD_SUITE, pin: PIN, puk: PUK, noPinLimit: NO_PIN_LIMIT });
  card.powerOn();
  await select(card);
  await verifyPin(card);
  const bank = new TestBank(CARD_SUITE, seededRandom('fuzz-card-bank'));
  await bank.open(card);
  for (const v of FIXTURE_COINS) await bank.withdraw(card, v);
  await verifyPin(card);
  await pay(card, bank.group, paymentContext('fuzz-setup'), 20, [bank.key(20).key.keyId]);
  await pay(card, bank.group, paymentContext('fuzz-setup'), 5, [bank.key(5).key.keyId]);
  card.powerOff();
  return { image: ram.readAll(), bank };
}
