/**
 * In-process readers holding simulated cards (`firmware-sim`'s SimulatedCard), for tests and
 * the demo. Inserting, removing and resetting a card are calls; they
 * raise the same events and errors as a real reader would, including a removal in the middle of
 * a command.
 */
import { EcashError, isEcashError } from '../../core/index.js';
import type { SimulatedCard } from '../../firmware-sim/index.js';
import { bridgeError, BRIDGE_ERROR, cardRemoved, noCard, noReader } from '../errors.js';
import { QueuedChannel } from '../exchange-queue.js';
import {
  ReaderEventHub,
  type CardChannel,
  type ConnectOptions,
  type Disposition,
  type ReaderEventListener,
  type ReaderInfo,
  type ReaderTransport,
  type ShareMode,
} from '../transport.js';

interface Insertion {
  card: SimulatedCard;
  /** Settles (rejects) when the card leaves the reader, so a pending exchange ends with it. */
  removed: Promise<never>;
  remove: (error: EcashError) => void;
  /** Bumped on every reset, so channels notice a reset made behind their back. */
  resets: number;
  powered: boolean;
}

interface Slot {
  name: string;
  insertion: Insertion | undefined;
  channels: Set<VirtualChannel>;
  exclusive: boolean;
}

export class VirtualTransport implements ReaderTransport {
  readonly kind = 'virtual' as const;
  private readonly slots = new Map<string, Slot>();
  private readonly events = new ReaderEventHub();

  constructor(readerNames: readonly string[] = []) {
    for (const name of readerNames) this.addReader(name);
  }

  private info(slot: Slot): ReaderInfo {
    return { name: slot.name, transport: 'virtual', cardPresent: slot.insertion !== undefined };
  }

  private slot(name: string): Slot {
    const slot = this.slots.get(name);
    if (slot === undefined) throw noReader(name);
    return slot;
  }

  addReader(name: string): void {
    if (this.slots.has(name)) throw new EcashError('reader-exists', `a virtual reader named "${name}" already exists`);
    const slot: Slot = { name, insertion: undefined, channels: new Set(), exclusive: false };
    this.slots.set(name, slot);
    this.events.emit({ type: 'reader-added', reader: this.info(slot) });
  }

  /** Unplugs a reader: its card (if any) goes with it, and its channels fail. */
  removeReader(name: string): void {
    const slot = this.slot(name);
    if (slot.insertion) this.takeOut(slot, noReader(name));
    this.slots.delete(name);
    this.events.emit({ type: 'reader-removed', reader: { ...this.info(slot), cardPresent: false } });
  }

  insertCard(readerName: string, card: SimulatedCard): void {
    const slot = this.slot(readerName);
    if (slot.insertion) throw new EcashError('card-present', `reader "${readerName}" already holds a card: remove it first`);
    let remove!: (error: EcashError) => void;
    const removed = new Promise<never>((_, reject) => {
      remove = reject;
    });
    removed.catch(() => undefined); // only exchanges in flight care
    slot.insertion = { card, removed, remove, resets: 0, powered: false };
    this.events.emit({ type: 'card-inserted', reader: this.info(slot), atr: card.atr });
  }

  /** Pulls the card out, at once, even in the middle of a command. */
  removeCard(readerName: string): void {
    const slot = this.slot(readerName);
    if (!slot.insertion) throw noCard(readerName);
    this.takeOut(slot, cardRemoved(readerName));
    this.events.emit({ type: 'card-removed', reader: this.info(slot) });
  }

  /** Resets the card as another application (or a power glitch) would. */
  resetCard(readerName: string): void {
    const insertion = this.slot(readerName).insertion;
    if (!insertion) throw noCard(readerName);
    insertion.resets++;
    insertion.card.reset();
  }

  private takeOut(slot: Slot, error: EcashError): void {
    const insertion = slot.insertion!;
    slot.insertion = undefined;
    // Connections to the card that left hold the reader no more; they fail until reconnected.
    slot.channels.clear();
    slot.exclusive = false;
    insertion.remove(error);
    // A card pulled from the field loses power.
    insertion.card.powerOff();
  }

  async listReaders(): Promise<ReaderInfo[]> {
    return [...this.slots.values()].map((s) => this.info(s));
  }

  watch(listener: ReaderEventListener): () => void {
    return this.events.add(listener);
  }

  async connect(readerName: string, options: ConnectOptions = {}): Promise<CardChannel> {
    const channel = new VirtualChannel(this, this.slot(readerName), options.share ?? 'exclusive');
    await channel.attach();
    return channel;
  }

  /** @internal Admits a channel to the card in `slot`, as PC/SC's sharing rules do. */
  admit(slot: Slot, channel: VirtualChannel): void {
    if (slot.exclusive || (channel.share === 'exclusive' && slot.channels.size > 0)) {
      throw bridgeError(BRIDGE_ERROR.READER_BUSY, `reader "${slot.name}" is in exclusive use by another connection: disconnect it first`);
    }
    slot.channels.add(channel);
    slot.exclusive = channel.share === 'exclusive';
  }

  /** @internal */
  release(slot: Slot, channel: VirtualChannel): void {
    slot.channels.delete(channel);
    if (slot.channels.size === 0) slot.exclusive = false;
  }

  /** @internal */
  hasReader(name: string): boolean {
    return this.slots.has(name);
  }

  /** @internal */
  readerInfo(slot: Slot): ReaderInfo {
    return this.info(slot);
  }

  async close(): Promise<void> {
    for (const slot of this.slots.values()) for (const ch of [...slot.channels]) await ch.disconnect('leave');
    this.events.clear();
  }
}

class VirtualChannel extends QueuedChannel implements CardChannel {
  readonly protocol = 'direct' as const;
  private insertion: Insertion | undefined;
  private seenResets = 0;

  constructor(
    private readonly transport: VirtualTransport,
    private readonly slot: Slot,
    readonly share: ShareMode,
  ) {
    super(slot.name);
  }

  get reader(): ReaderInfo {
    return this.transport.readerInfo(this.slot);
  }

  get atr(): Uint8Array {
    return (this.insertion ?? this.slot.insertion)?.card.atr ?? new Uint8Array(0);
  }

  /** Binds to the card now in the reader, powering it up if nobody has. */
  async attach(): Promise<void> {
    const insertion = this.slot.insertion;
    if (!insertion) throw noCard(this.slot.name);
    if (this.insertion !== insertion) this.transport.admit(this.slot, this);
    if (!insertion.powered) {
      insertion.card.powerOn();
      insertion.powered = true;
    }
    this.insertion = insertion;
    this.seenResets = insertion.resets;
  }

  protected async exchange(command: Uint8Array): Promise<Uint8Array> {
    const insertion = this.insertion;
    if (insertion === undefined || insertion !== this.slot.insertion) {
      throw this.transport.hasReader(this.slot.name) ? cardRemoved(this.slot.name) : noReader(this.slot.name);
    }
    if (insertion.resets !== this.seenResets) {
      this.seenResets = insertion.resets;
      throw bridgeError(BRIDGE_ERROR.CARD_RESET, `the card in "${this.slot.name}" was reset: select the applet (and verify the PIN) again`);
    }
    const answer = insertion.card.transmit(command).catch((e: unknown) => {
      // A torn card lost power mid-command, exactly as when it leaves the field.
      if (isEcashError(e, 'card-torn')) throw cardRemoved(this.slot.name);
      throw bridgeError(
        BRIDGE_ERROR.TRANSPORT_FAILURE,
        `the simulated card in "${this.slot.name}" failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    });
    return Promise.race([answer, insertion.removed]);
  }

  async reconnect(): Promise<void> {
    await this.readyToReconnect();
    await this.attach();
  }

  async disconnect(disposition: Disposition = 'reset'): Promise<void> {
    if (!(await this.closing())) return;
    this.transport.release(this.slot, this);
    const insertion = this.insertion;
    if (insertion === undefined || insertion !== this.slot.insertion || this.slot.channels.size > 0) return;
    if (disposition === 'reset') {
      insertion.resets++;
      insertion.card.reset();
    } else if (disposition === 'unpower') {
      insertion.powered = false;
      insertion.card.powerOff();
    }
  }
}
