/**
 * The card simulator behind `ecash sim serve` (docs/sim.md): simulated readers ("Sim 0", "Sim 1",
 * …) in a virtual transport that the reader bridge serves to terminals, and real emulated cards
 * (firmware-sim) made, loaded through the real bank, inserted and pulled on demand, including the
 * special cards a cash register must cope with.
 *
 * host/sim is the one host that may hold firmware-sim's cards (docs/conventions.md): it is the
 * cards' side of the counter, as the virtual transport is. Everything a terminal learns of a card
 * still crosses a reader as APDUs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BankWithdrawalSession,
  canWithdraw,
  type DenominationKey,
  EcashError,
  generateDenominationKey,
  isEcashError,
  type SuiteId,
  systemRandom,
} from '../../core/index.js';
import { CLA_ECASH, ECASH_INS } from '../../wire/index.js';
import {
  cardOnDevice,
  CHIP_PROFILES,
  type CardExchange,
  type CreateCardOptions,
  DEFAULT_CAPACITY,
  type EcashCard,
  formatDevice,
  personaliseCard,
  RamNvm,
  serveOverVpcd,
  type SimulatedCard,
  type VpcdConnection,
  type VpcdEvent,
} from '../../firmware-sim/index.js';
import { createDoubleSpendingCard } from '../../firmware-sim/testing/malicious.js';
import { CARD_ERROR, EcashCardClient, VirtualTransport, type CardChannel } from '../../reader-bridge/index.js';
import { accountOpeningJson, BankClient, type ParametersJson, ParsedParameters } from '../bank-client/index.js';
import { httpIssuer, LoadJournal, loadCard } from '../load/index.js';
import { type TapTrace, Taps } from './taps.js';

/** The special cards (docs/sim.md, "Special cards"); `standard` is an honest card. */
export const CARD_KINDS = [
  'standard',
  'empty',
  'no-exact-change',
  'blocked-pin',
  'pulled-mid-tap',
  'double-spending',
  'unknown-key',
] as const;
export type CardKind = (typeof CARD_KINDS)[number];

export const DEFAULT_PIN = '1234';
export const DEFAULT_PUK = '12345678';

/** Value put on the card through the bank: a new account for the card, credited by the operator. */
export interface LoadSpec {
  /** The bank's base URL. */
  bank: string;
  /** An operator credential: the operator pays the amount into the card's new account (a cash-in). */
  operatorToken: string;
  amount: number;
  currency: string;
  holder?: string;
}

/** A card to make; validated at the edge (api.ts), checked for sense here. */
export interface CardSpec {
  kind: CardKind;
  suite?: SuiteId;
  pin: string;
  puk: string;
  noPinLimit: number;
  /** A chip profile (`ecash card profiles`): the card answers as slowly as that chip. */
  profile?: string;
  load?: LoadSpec;
}

export interface CardView {
  id: string;
  kind: CardKind;
  suite: SuiteId;
  profile: string | null;
  noPinLimit: number;
  reader: string | null;
  account: string | null;
  loaded: { amount: number; currency: string } | null;
  pinBlocked: boolean;
}

export interface ReaderView {
  name: string;
  card: string | null;
  /** The removal armed on this reader's card, if any. */
  pull: PullPlan | null;
}

/**
 * When a card leaves mid-tap: after answering `afterApdus` more commands, or during its next PAY.
 * Either way the card acts on the command it is pulled during (as a card that had power long
 * enough to commit) and its answer is lost: the terminal must recover.
 */
export type PullPlan = { afterApdus: number } | { during: 'pay' };

const isPay = (command: Uint8Array): boolean => command.length >= 2 && (command[0]! & ~0x10) === CLA_ECASH && command[1] === ECASH_INS.PAY;

/** An emulated card as the simulator holds it: counts commands so that it can be pulled mid-tap. */
class SimCard implements SimulatedCard {
  reader: string | undefined;
  pull: PullPlan | undefined;
  /** Removes the card from its reader (set by the simulator at insertion). */
  onPull: (() => void) | undefined;
  /** Records the card's exchanges in its reader's trace (set at insertion). */
  onTrace: ((e: CardExchange, torn: boolean) => void) | undefined;
  /** Where the command under way is recorded, and whether the card is pulled during it. */
  private recording: { trace: ((e: CardExchange, torn: boolean) => void) | undefined; torn: boolean } | undefined;

  constructor(
    readonly id: string,
    readonly spec: CardSpec & { suite: SuiteId },
    readonly inner: EcashCard,
    readonly account: string | null,
    readonly loaded: { amount: number; currency: string } | null,
  ) {
    inner.onExchange((e) => this.recording?.trace?.(e, this.recording.torn));
  }

  get atr(): Uint8Array {
    return this.inner.atr;
  }

  powerOn(): Uint8Array {
    return this.inner.powerOn();
  }

  reset(): Uint8Array {
    return this.inner.reset();
  }

  powerOff(): void {
    this.inner.powerOff();
  }

  private pullDue(command: Uint8Array): boolean {
    const plan = this.pull;
    if (plan === undefined) return false;
    if ('during' in plan) return isPay(command);
    if (plan.afterApdus > 0) {
      this.pull = { afterApdus: plan.afterApdus - 1 };
      return false;
    }
    return true;
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const torn = this.pullDue(command);
    // Taken now: a card pulled mid-command has left its reader by the time it answers.
    this.recording = { trace: this.onTrace, torn };
    try {
      if (!torn) return await this.inner.transmit(command);
      this.pull = undefined;
      // The card acts on the command, then leaves the field before its answer is out.
      const answer = this.inner.transmit(command);
      this.onPull?.();
      await answer;
      throw new EcashError('card-torn', 'the card left the field before it answered');
    } finally {
      this.recording = undefined;
    }
  }

  view(): CardView {
    return {
      id: this.id,
      kind: this.spec.kind,
      suite: this.spec.suite,
      profile: this.spec.profile ?? null,
      noPinLimit: this.spec.noPinLimit,
      reader: this.reader ?? null,
      account: this.account,
      loaded: this.loaded,
      pinBlocked: this.spec.kind === 'blocked-pin',
    };
  }
}

/** A wrong PIN of the same length, different in every digit. */
const wrongPin = (pin: string): string => [...pin].map((d) => (d === '0' ? '1' : '0')).join('');

export interface SimulatorOptions {
  /** How many readers ("Sim 0" … "Sim n-1"). */
  readers: number;
  /**
   * vpcd slots of a pcscd, in order: "Sim 0" is attached to the first, "Sim 1" to the second, …
   * An attached reader's cards go into that pcscd (PC/SC applications see them) instead of the
   * reader bridge, which serves only the readers left unattached.
   */
  vpcd?: readonly { host: string; port: number }[];
  /** What the vpcd connections report (connected, lost, errors), for the operator's log. */
  onVpcdEvent?: (reader: string, event: VpcdEvent) => void;
}

export class Simulator {
  /** The simulated readers; the reader bridge serves them to terminals. */
  readonly readers: VirtualTransport;
  private readonly names: string[];
  /** The readers attached to a vpcd slot, with the slot. */
  private readonly vpcdSlots = new Map<string, { host: string; port: number }>();
  /** The card each attached reader serves into pcscd now (the connection is its presence there). */
  private readonly vpcdServing = new Map<string, Promise<VpcdConnection>>();
  /** Connections being closed, awaited by close(). */
  private readonly vpcdClosing = new Set<Promise<void>>();
  private readonly cards = new Map<string, SimCard>();
  private nextId = 1;
  /** Each reader's current tap and who watches the simulator (the API's event stream). */
  readonly taps = new Taps();
  /** Load journals (one per card, as at a load terminal). */
  private readonly dir = mkdtempSync(join(tmpdir(), 'ecash-sim-'));

  constructor(options: SimulatorOptions) {
    if (!Number.isInteger(options.readers) || options.readers < 1 || options.readers > 16) {
      throw new EcashError('bad-option', `a simulator has 1 to 16 readers, not ${options.readers}`);
    }
    this.names = Array.from({ length: options.readers }, (_, i) => `Sim ${i}`);
    const slots = options.vpcd ?? [];
    if (slots.length > options.readers)
      throw new EcashError('bad-option', `${slots.length} vpcd slots but only ${options.readers} readers to attach to them`);
    slots.forEach((slot, i) => this.vpcdSlots.set(this.names[i]!, slot));
    this.onVpcdEvent = options.onVpcdEvent;
    this.readers = new VirtualTransport(this.names.filter((n) => !this.vpcdSlots.has(n)));
  }

  private readonly onVpcdEvent: SimulatorOptions['onVpcdEvent'];

  /** Where each reader's cards go: `{"Sim 0": "127.0.0.1:35963"}` for the readers attached to vpcd. */
  vpcdAttachments(): Record<string, string> {
    return Object.fromEntries([...this.vpcdSlots].map(([reader, slot]) => [reader, `${slot.host}:${slot.port}`]));
  }

  async createCard(spec: CardSpec): Promise<CardView> {
    checkSpec(spec);
    const bankParams = spec.load === undefined ? undefined : await bankParameters(spec.load.bank);
    const bankSuite = bankParams?.suite;
    const suite = spec.suite ?? bankSuite ?? 'ristretto255-sha512';
    if (bankSuite !== undefined && suite !== bankSuite) {
      throw new EcashError(
        'bad-card-spec',
        `a card of suite ${suite} cannot be loaded by a bank of suite ${bankSuite}: leave suite out, or the load (a card of another suite is an empty one)`,
      );
    }
    const id = `card-${this.nextId++}`;
    const noPinLimit = spec.kind === 'blocked-pin' ? 0 : spec.noPinLimit;
    const options = { suite, pin: spec.pin, puk: spec.puk, noPinLimit, capacity: suite === 'modp2048-256' ? 96 * 1024 : DEFAULT_CAPACITY };
    const { setup, inner } = await makeCard(spec.kind, options, spec.profile);
    try {
      const account =
        spec.load === undefined
          ? null
          : spec.kind === 'unknown-key'
            ? await loadFromUnpublishedKey(setup, spec.pin, spec.load, bankParams!)
            : await this.load(id, setup, spec.pin, spec.load, spec.kind === 'no-exact-change');
      if (spec.kind === 'blocked-pin') await onSetupReader(setup, (client) => blockPin(client, spec.pin));
      const card = new SimCard(
        id,
        { ...spec, suite, noPinLimit },
        inner,
        account,
        spec.load === undefined ? null : { amount: spec.load.amount, currency: spec.load.currency },
      );
      if (spec.kind === 'pulled-mid-tap') card.pull = { during: 'pay' };
      this.cards.set(id, card);
      this.taps.changed();
      return card.view();
    } catch (e) {
      inner.close();
      throw e;
    }
  }

  /** Opens the card's account at the bank, has the operator pay in, and withdraws onto the card. */
  private async load(id: string, inner: EcashCard, pin: string, spec: LoadSpec, oneCoin: boolean): Promise<string> {
    const bank = new BankClient({ baseUrl: spec.bank });
    try {
      return await onSetupReader(inner, async (client) => {
        await client.verifyPin(pin);
        const holder = spec.holder ?? `simulated ${id}`;
        const opened = await bank.openAccount(accountOpeningJson(client.group, holder, await client.openAccount(holder)));
        await bank
          .withToken(spec.operatorToken)
          .credit(opened.accountId, { currency: spec.currency, amount: spec.amount, reference: `simulator ${id}` });
        const issuer = await httpIssuer(bank.withToken(opened.credential), opened.accountId);
        if (oneCoin) {
          const key = oneCoinKey(await issuer.denominationKeys(), spec, 'no-exact-change');
          const start = await issuer.startWithdrawal(key.keyId);
          const challenge = await client.withdrawBegin({ key: start.key, z: start.z, offer: start.offer });
          await client.withdrawEnd(await issuer.answerWithdrawal(start.sessionId, challenge.c));
        } else {
          const journal = new LoadJournal(join(this.dir, `load-${id}.db`));
          try {
            await loadCard({
              card: client,
              bank: issuer,
              journal,
              account: opened.accountId,
              currency: spec.currency,
              amount: spec.amount,
            });
          } finally {
            journal.close();
          }
        }
        return opened.accountId;
      });
    } catch (e) {
      if (isEcashError(e, 'bad-card-spec')) throw e;
      const code = isEcashError(e) ? e.code : 'internal';
      throw new EcashError(
        'load-failed',
        `loading the card through the bank at ${spec.bank} failed: ${e instanceof Error ? e.message : String(e)} [${code}]`,
        { cause: e },
      );
    }
  }

  private card(id: string): SimCard {
    const card = this.cards.get(id);
    if (card === undefined)
      throw new EcashError('card-not-found', `no simulated card "${id}": create one with POST /v1/cards (GET /v1/cards lists them)`);
    return card;
  }

  private reader(name: string): string {
    if (!this.names.includes(name))
      throw new EcashError(
        'reader-not-found',
        `no simulated reader "${name}": the readers are ${this.names.map((n) => `"${n}"`).join(', ')}`,
      );
    return name;
  }

  private holding(reader: string): SimCard | undefined {
    return [...this.cards.values()].find((c) => c.reader === reader);
  }

  insert(readerName: string, cardId: string): ReaderView {
    const reader = this.reader(readerName);
    const card = this.card(cardId);
    if (card.reader !== undefined)
      throw new EcashError('card-in-reader', `card ${cardId} is in reader "${card.reader}": remove it from there first`);
    const present = this.holding(reader);
    if (present !== undefined) throw new EcashError('reader-occupied', `reader "${reader}" holds card ${present.id}: remove it first`);
    card.onPull = () => this.takeOut(reader, card);
    card.onTrace = this.taps.start(reader, card.id);
    const slot = this.vpcdSlots.get(reader);
    if (slot === undefined) this.readers.insertCard(reader, card);
    else this.vpcdServing.set(reader, serveOverVpcd(card, { ...slot, onEvent: (e) => this.onVpcdEvent?.(reader, e) }));
    card.reader = reader;
    this.taps.changed();
    return this.readerView(reader);
  }

  /** Takes the card out now, or arms its removal in the middle of a coming command. */
  remove(readerName: string, plan?: PullPlan): ReaderView {
    const reader = this.reader(readerName);
    const card = this.holding(reader);
    if (card === undefined) throw new EcashError('reader-empty', `reader "${reader}" holds no card`);
    if (plan === undefined) this.takeOut(reader, card);
    else {
      card.pull = plan;
      this.taps.changed();
    }
    return this.readerView(reader);
  }

  private takeOut(reader: string, card: SimCard): void {
    card.reader = undefined;
    card.onPull = undefined;
    card.pull = undefined;
    card.onTrace = undefined;
    this.leaveReader(reader);
    this.taps.end(reader);
    this.taps.changed();
  }

  /** The card leaves the virtual reader, or pcscd's when the reader is attached to vpcd. */
  private leaveReader(reader: string): void {
    const serving = this.vpcdServing.get(reader);
    if (serving === undefined) {
      this.readers.removeCard(reader);
      return;
    }
    // Closing the connection is the card leaving pcscd's reader; it is not awaited here because
    // a card pulled mid-command is taken out from inside its own answer, which the close waits for.
    this.vpcdServing.delete(reader);
    const closing = serving.then((c) => c.close());
    this.vpcdClosing.add(closing);
    void closing.finally(() => this.vpcdClosing.delete(closing));
  }

  private readerView(name: string): ReaderView {
    const card = this.holding(name);
    return { name, card: card?.id ?? null, pull: card?.pull ?? null };
  }

  /** The APDU trace of the reader's current (or last) tap, PINs and PUKs redacted. */
  trace(readerName: string): { reader: string; trace: TapTrace | null } {
    const reader = this.reader(readerName);
    return { reader, trace: this.taps.trace(reader) };
  }

  listReaders(): ReaderView[] {
    return this.names.map((n) => this.readerView(n));
  }

  listCards(): CardView[] {
    return [...this.cards.values()].map((c) => c.view());
  }

  cardView(id: string): CardView {
    return this.card(id).view();
  }

  async close(): Promise<void> {
    for (const card of this.cards.values()) if (card.reader !== undefined) this.takeOut(card.reader, card);
    await Promise.all(this.vpcdClosing);
    for (const card of this.cards.values()) card.inner.close();
    this.cards.clear();
    await this.readers.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A personalised card in memory. An honest card is made and loaded at full speed, then served
 * with its chip profile over the same memory; the double-spending card (firmware-sim's testing
 * face) is one card throughout.
 */
async function makeCard(
  kind: CardKind,
  options: CreateCardOptions,
  profile: string | undefined,
): Promise<{ setup: EcashCard; inner: EcashCard }> {
  const paced = profile === undefined ? {} : { profile };
  if (kind === 'double-spending') {
    const card = await createDoubleSpendingCard({ ...options, ...paced, acknowledge: 'this card double-spends' });
    return { setup: card, inner: card };
  }
  const device = new RamNvm(options.capacity ?? DEFAULT_CAPACITY);
  formatDevice(device);
  const setup = cardOnDevice(device);
  await personaliseCard(setup, options);
  return { setup, inner: profile === undefined ? setup : cardOnDevice(device, paced) };
}

/** The bank's key for a card of one coin of `spec.amount` (the value must be a denomination of the bank). */
function oneCoinKey(keys: readonly DenominationKey[], spec: LoadSpec, kind: CardKind): DenominationKey {
  const now = Date.now();
  const key = keys.find((k) => k.value === spec.amount && k.currency === spec.currency && k.scope === '' && canWithdraw(k, now));
  if (key === undefined)
    throw new EcashError(
      'bad-card-spec',
      `the bank has no ${spec.currency} coin of ${spec.amount} to withdraw now: a ${kind} card holds one coin, so load.amount must be one of the bank's denominations`,
    );
  return key;
}

/**
 * Puts on the card one real blind-signed coin of `spec.amount` under a key the bank never
 * published: a fixture key with the terms of the bank's own key of that value, made for this card
 * and forgotten. The card opens an account and withdraws as from any bank; nothing is paid in at
 * the bank, which is only read (its suite and terms). No terminal of that bank knows the key.
 */
async function loadFromUnpublishedKey(card: EcashCard, pin: string, spec: LoadSpec, bank: ParametersJson): Promise<null> {
  const { group, keys } = new ParsedParameters().update(bank);
  const { value, currency, withdrawFrom, withdrawUntil, depositUntil, scope } = oneCoinKey(keys, spec, 'unknown-key');
  const fixture = generateDenominationKey(group, { value, currency, withdrawFrom, withdrawUntil, depositUntil, scope }, systemRandom);
  await onSetupReader(card, async (client) => {
    await client.verifyPin(pin);
    const opening = await client.openAccount(spec.holder ?? 'holder of an unknown key');
    const z = group.exp(group.mul(opening.I, group.g2), fixture.x);
    const session = BankWithdrawalSession.offer(group, fixture, opening.I, systemRandom);
    const challenge = await client.withdrawBegin({ key: fixture.key, z, offer: session.offer });
    await client.withdrawEnd(session.answer(challenge.c));
  });
  return null;
}

function checkSpec(spec: CardSpec): void {
  if (spec.profile !== undefined && CHIP_PROFILES[spec.profile] === undefined) {
    throw new EcashError('bad-card-spec', `profile must be one of ${Object.keys(CHIP_PROFILES).join(', ')}, not "${spec.profile}"`);
  }
  if (spec.kind === 'empty' && spec.load !== undefined) throw new EcashError('bad-card-spec', 'an empty card takes no load');
  if ((spec.kind === 'no-exact-change' || spec.kind === 'double-spending' || spec.kind === 'unknown-key') && spec.load === undefined) {
    throw new EcashError(
      'bad-card-spec',
      `a ${spec.kind} card needs coins: give load (the bank's URL, an operator credential, the amount)`,
    );
  }
  if (spec.kind === 'blocked-pin' && spec.noPinLimit !== 0)
    throw new EcashError('bad-card-spec', 'a blocked-pin card asks for the PIN at every payment: leave noPinLimit at 0');
}

async function bankParameters(url: string): Promise<ParametersJson> {
  try {
    return await new BankClient({ baseUrl: url }).parameters();
  } catch (e) {
    throw new EcashError('load-failed', `cannot read the bank's parameters at ${url}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** Runs `work` with the card in a private reader of its own (never one a terminal sees). */
async function onSetupReader<T>(card: EcashCard, work: (client: EcashCardClient) => Promise<T>): Promise<T> {
  const setup = new VirtualTransport(['setup']);
  setup.insertCard('setup', card);
  let channel: CardChannel | undefined;
  try {
    channel = await setup.connect('setup');
    const client = EcashCardClient.on(channel);
    await client.select();
    return await work(client);
  } finally {
    await channel?.disconnect('reset');
    setup.removeCard('setup');
    await setup.close();
  }
}

/** Presents wrong PINs, as a holder who forgot it would, until the card blocks the PIN. */
async function blockPin(client: EcashCardClient, pin: string): Promise<void> {
  for (let tries = 0; tries < 32; tries++) {
    try {
      await client.verifyPin(wrongPin(pin));
    } catch (e) {
      if (isEcashError(e, CARD_ERROR.PIN_BLOCKED)) return;
      if (!isEcashError(e, CARD_ERROR.PIN_WRONG)) throw e;
    }
  }
  throw new EcashError('internal', 'the card did not block its PIN after 32 wrong entries');
}
