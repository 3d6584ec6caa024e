/**
 * Transactions over the card's non-volatile memory, the way a Java Card runtime gives an applet
 * JCSystem.beginTransaction/commitTransaction: every write of a command goes into one
 * transaction, and a tear at any physical write leaves memory as before the transaction or as
 * after it, never in between.
 *
 * Mechanism: a redo journal. During a transaction writes land in the RAM mirror and are listed.
 * Commit writes (1) the list into the journal body, (2) the journal header with its CRC — the
 * commit point —, (3) each write at its place, (4) zeros over the header. Power-up replays a
 * header whose CRC matches its body (steps 3-4 again: idempotent) and ignores anything else.
 *
 * Image header (32 bytes at 0): "ECASHNVM" | u16 format version | u32 capacity |
 * u32 journal capacity | 10 reserved | u32 CRC-32 of the first 28 bytes.
 * Journal (at 32): u32 magic "JRNL" | u32 body length | u32 CRC-32 of (length ‖ body) | 4 reserved,
 * then the body: entries of u32 offset | u16 length | bytes.
 */
import { crc32 } from 'node:zlib';
import { bytesEqual, EcashError, u32be } from '../../core/index.js';
import { JOURNAL_CAPACITY } from './layout.js';
import type { NvmDevice } from './nvm.js';

export const IMAGE_MAGIC = new TextEncoder().encode('ECASHNVM');
/** 2: the account record holds the cumulative no-PIN amount (format 1 is upgraded: upgrade.ts). */
export const IMAGE_FORMAT_VERSION = 2;
export const IMAGE_HEADER_LENGTH = 32;
export const JOURNAL_OFFSET = IMAGE_HEADER_LENGTH;
const JOURNAL_HEADER_LENGTH = 16;
const JOURNAL_MAGIC = 0x4a524e4c;
const ENTRY_HEADER = 6;

/** Where the work of a command is counted (the cost model's memory figures). */
export interface NvmMeter {
  nvmBytesWritten: number;
  nvmWrites: number;
}

interface PendingWrite {
  offset: number;
  before: Uint8Array;
  after: Uint8Array;
}

const corruptJournal = () =>
  new EcashError('card-image-corrupt', "the card image's transaction journal is damaged: it writes outside the card's memory");

function readU32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset + off, 4).getUint32(0, false);
}

export function imageHeader(capacity: number, journalCapacity: number): Uint8Array {
  const h = new Uint8Array(IMAGE_HEADER_LENGTH);
  h.set(IMAGE_MAGIC, 0);
  h[8] = IMAGE_FORMAT_VERSION >> 8;
  h[9] = IMAGE_FORMAT_VERSION & 0xff;
  h.set(u32be(capacity), 10);
  h.set(u32be(journalCapacity), 14);
  h.set(u32be(crc32(h.subarray(0, 28))), 28);
  return h;
}

export class PersistentMemory {
  /** The RAM mirror of the device: every read is served from here. */
  private readonly mirror: Uint8Array;
  private txn: PendingWrite[] | undefined;
  private dead = false;
  meter: NvmMeter = { nvmBytesWritten: 0, nvmWrites: 0 };

  private constructor(
    private readonly device: NvmDevice,
    readonly journalCapacity: number,
    mirror: Uint8Array,
    /** The image's format version (only the current one is ever used by a card; see upgrade.ts). */
    readonly version: number,
  ) {
    this.mirror = mirror;
  }

  /** Writes a fresh image header (the factory's step); the rest of the device must be zero. */
  static format(device: NvmDevice, journalCapacity: number): void {
    device.write(0, imageHeader(device.size, journalCapacity));
  }

  /**
   * Power-up: checks the image header (a foreign or corrupt image is refused) and finishes or
   * discards an interrupted transaction. An image of an earlier format is refused with
   * `card-image-old-format`: `openCard` upgrades it first.
   */
  static load(device: NvmDevice): PersistentMemory {
    const memory = PersistentMemory.loadAnyVersion(device);
    if (memory.version !== IMAGE_FORMAT_VERSION) {
      throw new EcashError(
        'card-image-old-format',
        `the card image has format version ${memory.version}; open it with this version's \`ecash card serve\` (or openCard), which upgrades it to ${IMAGE_FORMAT_VERSION}`,
      );
    }
    return memory;
  }

  /** As `load`, for the upgrade of an earlier format too (the journal is the same in every format). */
  static loadAnyVersion(device: NvmDevice): PersistentMemory {
    const image = device.readAll();
    if (image.length < IMAGE_HEADER_LENGTH || !bytesEqual(image.subarray(0, IMAGE_MAGIC.length), IMAGE_MAGIC)) {
      throw new EcashError(
        'card-image-foreign',
        'this file is not an e-cash card image (wrong magic); create one with `ecash card create`',
      );
    }
    const header = image.subarray(0, IMAGE_HEADER_LENGTH);
    if (readU32(header, 28) !== crc32(header.subarray(0, 28))) {
      throw new EcashError('card-image-corrupt', 'the card image header fails its checksum: the file is damaged');
    }
    const version = (header[8]! << 8) | header[9]!;
    if (version < 1 || version > IMAGE_FORMAT_VERSION) {
      throw new EcashError(
        'card-image-foreign',
        `the card image has format version ${version}; this card supports 1 to ${IMAGE_FORMAT_VERSION} (a newer program made it?)`,
      );
    }
    const capacity = readU32(header, 10);
    const journalCapacity = readU32(header, 14);
    if (capacity !== image.length || JOURNAL_OFFSET + JOURNAL_HEADER_LENGTH + journalCapacity > capacity) {
      throw new EcashError(
        'card-image-corrupt',
        `the card image declares ${capacity} bytes but the file holds ${image.length}: it was truncated or extended`,
      );
    }
    const memory = new PersistentMemory(device, journalCapacity, image, version);
    memory.recover();
    return memory;
  }

  get size(): number {
    return this.mirror.length;
  }

  /** The first byte after the journal: where the applet's own data may start. */
  get dataOffset(): number {
    return PersistentMemory.dataOffsetFor(this.journalCapacity);
  }

  static dataOffsetFor(journalCapacity: number): number {
    return JOURNAL_OFFSET + JOURNAL_HEADER_LENGTH + journalCapacity;
  }

  private physicalWrite(offset: number, bytes: Uint8Array): void {
    if (this.dead) throw new EcashError('card-torn', 'the card lost power: power it on again');
    try {
      this.device.write(offset, bytes);
    } catch (e) {
      this.dead = true;
      throw e;
    }
    this.meter.nvmBytesWritten += bytes.length;
    this.meter.nvmWrites++;
  }

  private recover(): void {
    const h = this.mirror.subarray(JOURNAL_OFFSET, JOURNAL_OFFSET + JOURNAL_HEADER_LENGTH);
    if (readU32(h, 0) !== JOURNAL_MAGIC) return;
    const length = readU32(h, 4);
    if (length > this.journalCapacity) return;
    const bodyStart = JOURNAL_OFFSET + JOURNAL_HEADER_LENGTH;
    const body = this.mirror.subarray(bodyStart, bodyStart + length);
    if (readU32(h, 8) !== crc32(body, crc32(u32be(length)))) return;
    const entries: { offset: number; bytes: Uint8Array }[] = [];
    for (let off = 0; off < length; ) {
      // The card only ever journals whole writes inside the applet's memory: anything else is an
      // edited image, refused before a byte of it lands (it could overwrite the header).
      if (off + ENTRY_HEADER > length) throw corruptJournal();
      const offset = readU32(body, off);
      const n = (body[off + 4]! << 8) | body[off + 5]!;
      if (off + ENTRY_HEADER + n > length || offset < this.dataOffset || offset + n > this.size) throw corruptJournal();
      entries.push({ offset, bytes: body.slice(off + ENTRY_HEADER, off + ENTRY_HEADER + n) });
      off += ENTRY_HEADER + n;
    }
    this.apply(entries);
  }

  private apply(entries: readonly { offset: number; bytes: Uint8Array }[]): void {
    for (const e of entries) {
      this.physicalWrite(e.offset, e.bytes);
      this.mirror.set(e.bytes, e.offset);
    }
    const cleared = new Uint8Array(JOURNAL_HEADER_LENGTH);
    this.physicalWrite(JOURNAL_OFFSET, cleared);
    this.mirror.set(cleared, JOURNAL_OFFSET);
  }

  read(offset: number, length: number): Uint8Array {
    return this.mirror.slice(offset, offset + length);
  }

  /** A view for parsing; valid until the next write. */
  view(offset: number, length: number): Uint8Array {
    return this.mirror.subarray(offset, offset + length);
  }

  get inTransaction(): boolean {
    return this.txn !== undefined;
  }

  begin(): void {
    if (this.txn !== undefined) throw new EcashError('card-internal', 'a transaction is already open');
    this.txn = [];
  }

  /** A write inside the open transaction: visible to reads at once, durable at commit. */
  write(offset: number, bytes: Uint8Array): void {
    if (this.txn === undefined) throw new EcashError('card-internal', 'persistent memory is written only inside a transaction');
    if (offset < this.dataOffset || offset + bytes.length > this.size) {
      throw new EcashError('card-internal', `write of ${bytes.length} bytes at ${offset} is outside the applet's memory`);
    }
    this.txn.push({ offset, before: this.mirror.slice(offset, offset + bytes.length), after: bytes.slice() });
    this.mirror.set(bytes, offset);
  }

  /** Puts the mirror back as it was at `begin`. */
  abort(): void {
    const txn = this.txn;
    this.txn = undefined;
    if (txn === undefined) return;
    for (let i = txn.length - 1; i >= 0; i--) this.mirror.set(txn[i]!.before, txn[i]!.offset);
  }

  commit(): void {
    const txn = this.txn;
    if (txn === undefined) throw new EcashError('card-internal', 'no transaction to commit');
    this.txn = undefined;
    if (txn.length === 0) return;
    let length = 0;
    for (const w of txn) length += ENTRY_HEADER + w.after.length;
    if (length > this.journalCapacity) {
      for (let i = txn.length - 1; i >= 0; i--) this.mirror.set(txn[i]!.before, txn[i]!.offset);
      throw new EcashError('card-internal', `a transaction of ${length} bytes exceeds the ${this.journalCapacity}-byte journal`);
    }
    const body = new Uint8Array(length);
    let off = 0;
    for (const w of txn) {
      body.set(u32be(w.offset), off);
      body[off + 4] = w.after.length >> 8;
      body[off + 5] = w.after.length & 0xff;
      body.set(w.after, off + ENTRY_HEADER);
      off += ENTRY_HEADER + w.after.length;
    }
    const header = new Uint8Array(JOURNAL_HEADER_LENGTH);
    header.set(u32be(JOURNAL_MAGIC), 0);
    header.set(u32be(length), 4);
    header.set(u32be(crc32(body, crc32(u32be(length)))), 8);
    this.physicalWrite(JOURNAL_OFFSET + JOURNAL_HEADER_LENGTH, body);
    this.physicalWrite(JOURNAL_OFFSET, header);
    this.apply(txn.map((w) => ({ offset: w.offset, bytes: w.after })));
  }
}

/** Where the applet's records start in an image with the standard journal (docs/card.md). */
export const APPLET_DATA_OFFSET = PersistentMemory.dataOffsetFor(JOURNAL_CAPACITY);
