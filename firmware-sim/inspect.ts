/**
 * What the holder may see of a card image file without a reader (`ecash card info`): balance by
 * denomination, coin slots, PIN state, a pending withdrawal. Never a secret, never I. The file is
 * read under the image's lock (`card-in-use` while a process has the card open: its memory may be
 * mid-transaction), not written: an interrupted transaction is resolved on a copy in RAM.
 */
import { getGroup, toHex, type SuiteId } from '../core/index.js';
import { PersistentMemory } from './memory/journal.js';
import { KEY_ENTRIES, LOG_ENTRIES, SLOT_SPENDABLE } from './memory/layout.js';
import { FileNvm, RamNvm } from './memory/nvm.js';
import { upgradeImage } from './memory/upgrade.js';
import { WalletStore } from './memory/wallet-store.js';

export interface CardDenomination {
  keyId: string;
  value: number;
  currency: string;
  scope: string;
  depositUntil: number;
  count: number;
}

export interface CardImageSummary {
  /** Image size in bytes. */
  capacity: number;
  personalised: boolean;
  suite: SuiteId | null;
  coinSlots: number;
  freeSlots: number;
  pinTriesLeft: number | null;
  pukTriesLeft: number | null;
  noPinLimit: number | null;
  /** Paid without the PIN since it was last verified (the card asks for it once this plus a payment exceeds the limit). */
  noPinSpent: number | null;
  pendingWithdrawal: { keyId: string; value: number; currency: string } | null;
  denominations: CardDenomination[];
  /** Total spendable value per currency, in minor units. */
  totals: Record<string, number>;
  paymentsLogged: number;
}

function readImage(path: string): Uint8Array {
  const file = FileNvm.open(path, { readOnly: true });
  try {
    return file.readAll();
  } finally {
    file.close();
  }
}

export function inspectCardImage(path: string): CardImageSummary {
  const image = readImage(path);
  // An image of an earlier format is shown as it will be once a card opens it (the file is not written).
  const memory = PersistentMemory.load(new RamNvm(upgradeImage(image) ?? image));
  const store = new WalletStore(memory);
  const suite = store.suite;
  if (suite === undefined) {
    return {
      capacity: memory.size,
      personalised: false,
      suite: null,
      coinSlots: 0,
      freeSlots: 0,
      pinTriesLeft: null,
      pukTriesLeft: null,
      noPinLimit: null,
      noPinSpent: null,
      pendingWithdrawal: null,
      denominations: [],
      totals: {},
      paymentsLogged: 0,
    };
  }
  const E = getGroup(suite).elementLength;
  const layout = store.layoutFor(E);
  store.checkIntegrity(layout);
  const account = store.readAccount(E);
  const counts = new Map<number, number>();
  let freeSlots = 0;
  for (let i = 0; i < layout.slots.length; i++) {
    const s = store.slotState(E, i);
    if (s.state === SLOT_SPENDABLE) counts.set(s.keyIndex, (counts.get(s.keyIndex) ?? 0) + 1);
    else freeSlots++;
  }
  const denominations: CardDenomination[] = [];
  const totals: Record<string, number> = {};
  for (let k = 0; k < KEY_ENTRIES; k++) {
    const key = store.readKey(E, k);
    const count = counts.get(k) ?? 0;
    if (key === undefined || count === 0) continue;
    denominations.push({
      keyId: toHex(key.keyId),
      value: key.value,
      currency: key.currency,
      scope: key.scope,
      depositUntil: key.depositUntil,
      count,
    });
    totals[key.currency] = (totals[key.currency] ?? 0) + key.value * count;
  }
  const pending = store.readPending(E);
  let paymentsLogged = 0;
  for (let i = 0; i < LOG_ENTRIES; i++) if (store.readLog(E, i) !== undefined) paymentsLogged++;
  return {
    capacity: memory.size,
    personalised: true,
    suite,
    coinSlots: layout.slots.length,
    freeSlots,
    pinTriesLeft: account.pin.tries,
    pukTriesLeft: account.puk.tries,
    noPinLimit: account.noPinLimit,
    noPinSpent: account.noPinSpent,
    pendingWithdrawal:
      pending === undefined ? null : { keyId: toHex(pending.keyId), value: pending.terms.value, currency: pending.terms.currency },
    denominations: denominations.sort((a, b) => b.value - a.value),
    totals,
    paymentsLogged,
  };
}
