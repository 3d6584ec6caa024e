/**
 * The emulated card: power states and ATR around the runtime and the e-cash applet, over a
 * persistent memory device (an image file or RAM). Power-up re-reads memory and finishes or
 * discards an interrupted transaction; a reset clears the session (selection, PIN state, pending
 * GET RESPONSE), never memory. With a chip profile, each answer is delayed to what the command
 * would take on that chip.
 */
import { unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EcashError, getGroup, isEcashError, systemRandom, type RandomSource, type SuiteId } from '../core/index.js';
import {
  CARD_ATR,
  CLA_ECASH,
  CLA_ISO,
  ECASH_AID,
  ECASH_INS,
  encodeCommand,
  encodePersonalise,
  ISO_INS,
  parseResponse,
  SELECT_BY_AID_P1,
  swHex,
  type CommandCost,
} from '../wire/index.js';
import { EcashApplet, type DecodedCoins } from './applet/ecash-applet.js';
import { chipProfile, modelledMs, pricesFor, type ChipProfile } from './cost.js';
import { PersistentMemory } from './memory/journal.js';
import { ACCOUNT_PERSONALISED, checkCapacity, computeLayout, DEFAULT_CAPACITY, JOURNAL_CAPACITY } from './memory/layout.js';
import { FileNvm, RamNvm, type NvmDevice } from './memory/nvm.js';
import { upgradeImage } from './memory/upgrade.js';
import { WalletStore } from './memory/wallet-store.js';
import { CardRuntime, type ProcessedCommand } from './runtime.js';

/** What a reader sees of a card. */
export interface SimulatedCard {
  readonly atr: Uint8Array;
  /** Cold reset: returns the ATR. */
  powerOn(): Uint8Array;
  /** Warm reset: clears selection and PIN state, not memory. */
  reset(): Uint8Array;
  powerOff(): void;
  /** One command APDU in, one response APDU out. */
  transmit(command: Uint8Array): Promise<Uint8Array>;
}

/** One command as the card saw it (for traces; the command may carry a PIN: redact before printing). */
export interface CardExchange {
  command: Uint8Array;
  response: Uint8Array;
  cost: CommandCost;
  /** Why the card refused, when it did (never sent to the reader). */
  refusal: string | undefined;
  /** Time the emulator spent, and the time the chip profile says the command takes. */
  elapsedMs: number;
  modelledMs: number | undefined;
}

export type ExchangeListener = (exchange: CardExchange) => void;

/** The e-cash card: a SimulatedCard with tracing, a cost model and an image to close. */
export interface EcashCard extends SimulatedCard {
  readonly profile: ChipProfile | undefined;
  readonly powered: boolean;
  /** Calls `listener` after every command; returns the function that stops it. */
  onExchange(listener: ExchangeListener): () => void;
  /** Powers off and releases the image file. */
  close(): void;
}

/** Builds the applet a card runs (the malicious test card substitutes its own). */
export type AppletFactory = (store: WalletStore, rng: RandomSource, decodedCoins: DecodedCoins) => EcashApplet;

export interface CardOptions {
  /** A chip profile (or its id): answers are delayed to the modelled time. */
  profile?: ChipProfile | string;
  rng?: RandomSource;
}

export interface CreateCardOptions {
  suite?: SuiteId;
  pin: string;
  puk: string;
  /** Image size in bytes (default 32 KiB). */
  capacity?: number;
  /** Payments up to this total (minor units) need no PIN (default 0: all do). */
  noPinLimit?: number;
  rng?: RandomSource;
}

class EmulatedCard implements EcashCard {
  readonly atr = CARD_ATR;
  readonly profile: ChipProfile | undefined;
  private runtime: CardRuntime | undefined;
  private store: WalletStore | undefined;
  private readonly listeners = new Set<ExchangeListener>();
  private readonly rng: RandomSource;
  private readonly decodedCoins: DecodedCoins = new Map();

  constructor(
    private readonly device: NvmDevice,
    options: CardOptions,
    private readonly appletFactory: AppletFactory,
  ) {
    this.rng = options.rng ?? systemRandom;
    this.profile = typeof options.profile === 'string' ? chipProfile(options.profile) : options.profile;
  }

  get powered(): boolean {
    return this.runtime !== undefined;
  }

  powerOn(): Uint8Array {
    const memory = PersistentMemory.load(this.device);
    const store = new WalletStore(memory);
    const state = memory.view(memory.dataOffset, 1)[0];
    if (state !== 0 && state !== ACCOUNT_PERSONALISED)
      throw new EcashError('card-image-corrupt', 'the card image has an unknown account state: the file is damaged');
    const suite = store.suite;
    if (suite !== undefined) store.checkIntegrity(store.layoutFor(getGroup(suite).elementLength));
    this.store = store;
    this.runtime = new CardRuntime(this.appletFactory(store, this.rng, this.decodedCoins));
    return this.atr;
  }

  reset(): Uint8Array {
    if (this.runtime === undefined) return this.powerOn();
    this.runtime.reset();
    return this.atr;
  }

  powerOff(): void {
    this.runtime?.reset();
    this.runtime = undefined;
    this.store = undefined;
  }

  onExchange(listener: ExchangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const runtime = this.runtime;
    if (runtime === undefined) throw new EcashError('card-unpowered', 'the card is not powered: power it on (connect the reader) first');
    const started = performance.now();
    let processed: ProcessedCommand;
    try {
      processed = runtime.process(command);
    } catch (e) {
      // A tear: power is gone mid-command, as when the card leaves the field.
      if (isEcashError(e, 'card-torn')) this.powerOff();
      throw e;
    }
    const elapsedMs = performance.now() - started;
    let modelled: number | undefined;
    if (this.profile !== undefined) {
      modelled = modelledMs(processed.cost, command.length + processed.response.length, pricesFor(this.profile, this.store?.suite));
      const wait = modelled - (performance.now() - started);
      if (wait > 0) await sleep(wait);
    }
    const exchange: CardExchange = {
      command,
      response: processed.response,
      cost: processed.cost,
      refusal: processed.refusal,
      elapsedMs,
      modelledMs: modelled,
    };
    for (const l of this.listeners) l(exchange);
    return processed.response;
  }

  close(): void {
    this.powerOff();
    this.device.close();
  }
}

const honestApplet: AppletFactory = (store, rng, decodedCoins) => new EcashApplet(store, rng, decodedCoins);

/** A card over any memory device (opening checks the image: a foreign or corrupt one throws). */
export function cardOnDevice(device: NvmDevice, options: CardOptions = {}, appletFactory: AppletFactory = honestApplet): EcashCard {
  const card = new EmulatedCard(device, options, appletFactory);
  card.powerOn();
  card.powerOff();
  return card;
}

/** Writes a factory-fresh image header onto a zeroed device. */
export function formatDevice(device: NvmDevice): void {
  checkCapacity(device.size);
  PersistentMemory.format(device, JOURNAL_CAPACITY);
}

async function exchange(card: SimulatedCard, cla: number, ins: number, p1: number, p2: number, data: Uint8Array): Promise<void> {
  const res = parseResponse(await card.transmit(encodeCommand({ cla, ins, p1, p2, data, le: undefined })));
  if (res.sw !== 0x9000) throw new EcashError('card-personalisation-failed', `the card refused personalisation (status ${swHex(res.sw)})`);
}

/** Personalises a factory-fresh card through its own APDUs, as an issuer's machine would. */
export async function personaliseCard(card: SimulatedCard, opts: CreateCardOptions): Promise<void> {
  const suite = opts.suite ?? 'ristretto255-sha512';
  const data = encodePersonalise({ suite, pin: opts.pin, puk: opts.puk, noPinLimit: opts.noPinLimit ?? 0 });
  card.powerOn();
  try {
    await exchange(card, CLA_ISO, ISO_INS.SELECT, SELECT_BY_AID_P1, 0x0c, ECASH_AID);
    await exchange(card, CLA_ECASH, ECASH_INS.PERSONALISE, 0, 0, data);
  } finally {
    card.powerOff();
  }
}

function checkRoomForSuite(capacity: number, suite: SuiteId): void {
  checkCapacity(capacity);
  const layout = computeLayout(capacity, PersistentMemory.dataOffsetFor(JOURNAL_CAPACITY), getGroup(suite).elementLength);
  if (layout.slots.length === 0)
    throw new EcashError('bad-capacity', `a ${capacity}-byte card holds no coin of suite ${suite}: give a larger --capacity`);
}

/** Creates a personalised card image file (refuses to overwrite one). */
export async function createCardImage(path: string, opts: CreateCardOptions): Promise<void> {
  const capacity = opts.capacity ?? DEFAULT_CAPACITY;
  checkRoomForSuite(capacity, opts.suite ?? 'ristretto255-sha512');
  const device = FileNvm.create(path, capacity);
  try {
    formatDevice(device);
    const card = cardOnDevice(device, { rng: opts.rng });
    await personaliseCard(card, opts);
  } catch (e) {
    device.close();
    unlinkSync(path);
    throw e;
  }
  device.close();
}

/**
 * Opens a card image file for this process alone (`card-in-use` while another opener holds it),
 * upgrading an image of an earlier format in place; throws `card-image-foreign` /
 * `card-image-corrupt` for a bad file.
 */
export function openCard(path: string, options: CardOptions = {}): EcashCard {
  const device = FileNvm.open(path);
  try {
    const upgraded = upgradeImage(device.readAll());
    if (upgraded !== undefined) device.replaceAll(upgraded);
    return cardOnDevice(device, options);
  } catch (e) {
    device.close();
    throw e;
  }
}

/**
 * The same card on an in-memory image (tests, demo). Personalised when a PIN and PUK are given,
 * factory-fresh otherwise.
 */
export async function createVolatileCard(opts: Partial<CreateCardOptions> & CardOptions = {}): Promise<EcashCard> {
  const capacity = opts.capacity ?? DEFAULT_CAPACITY;
  if (opts.pin !== undefined || opts.puk !== undefined) checkRoomForSuite(capacity, opts.suite ?? 'ristretto255-sha512');
  const device = new RamNvm(capacity);
  formatDevice(device);
  const card = cardOnDevice(device, opts);
  if (opts.pin !== undefined || opts.puk !== undefined) {
    if (opts.pin === undefined || opts.puk === undefined)
      throw new EcashError('bad-card-options', 'give both a PIN and a PUK to personalise the card');
    await personaliseCard(card, { ...opts, pin: opts.pin, puk: opts.puk });
  }
  return card;
}
