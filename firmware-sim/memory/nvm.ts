/**
 * The card's non-volatile memory (the EEPROM of a real chip): a fixed-size byte array that is
 * written at offsets. Two devices: an image file on disk and a RAM array (tests, demo). A tear
 * (the card pulled from the field) can be injected at any write, landing part of that write.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { EcashError } from '../../core/index.js';
import { ImageLock } from './image-lock.js';

export interface NvmDevice {
  readonly size: number;
  /** The whole content, as it is now (read once at power-up into the card's RAM mirror). */
  readAll(): Uint8Array;
  /** One physical write. */
  write(offset: number, bytes: Uint8Array): void;
  close(): void;
}

function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > size) {
    throw new EcashError('card-internal', `memory write out of range: ${length} bytes at ${offset} of ${size}`);
  }
}

export class RamNvm implements NvmDevice {
  readonly bytes: Uint8Array;

  constructor(sizeOrContent: number | Uint8Array) {
    this.bytes = typeof sizeOrContent === 'number' ? new Uint8Array(sizeOrContent) : sizeOrContent.slice();
  }

  get size(): number {
    return this.bytes.length;
  }

  readAll(): Uint8Array {
    return this.bytes.slice();
  }

  write(offset: number, bytes: Uint8Array): void {
    checkRange(this.size, offset, bytes.length);
    this.bytes.set(bytes, offset);
  }

  close(): void {}
}

/**
 * An image file, held exclusively (image-lock.ts): while it is open no other process, and no
 * other opener in this one, can open it. Writes go straight to the file (no buffering in this
 * process), so a card process that dies leaves exactly the writes it made; surviving a host OS
 * crash would also need fsync per write, which the model of a card pulled from a reader does not
 * require.
 */
export class FileNvm implements NvmDevice {
  private fd: number | undefined;
  readonly size: number;

  private constructor(
    fd: number,
    readonly path: string,
    private readonly lock: ImageLock,
  ) {
    this.fd = fd;
    this.size = fstatSync(fd).size;
  }

  /** Creates a new image of `size` zero bytes; refuses to overwrite an existing file. */
  static create(path: string, size: number): FileNvm {
    const lock = ImageLock.acquire(path);
    let fd: number;
    try {
      fd = openSync(path, 'wx+');
    } catch (cause) {
      lock.release();
      throw new EcashError(
        'card-image-exists',
        `cannot create the card image ${path}: ${(cause as Error).message}; choose a new file name`,
        { cause },
      );
    }
    try {
      writeSync(fd, new Uint8Array(size), 0, size, 0);
    } catch (e) {
      closeSync(fd);
      lock.release();
      throw e;
    }
    return new FileNvm(fd, path, lock);
  }

  /**
   * Opens an image under its lock (`card-in-use` if another opener holds it); `readOnly` for
   * inspection, which takes the lock all the same so that it never reads a half-written state.
   */
  static open(path: string, opts: { readOnly?: boolean } = {}): FileNvm {
    let fd: number;
    try {
      fd = openSync(path, opts.readOnly ? 'r' : 'r+');
    } catch (cause) {
      throw new EcashError('card-image-unreadable', `cannot open the card image ${path}: ${(cause as Error).message}`, { cause });
    }
    let lock: ImageLock;
    try {
      lock = ImageLock.acquire(path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    // A format upgrade interrupted before its rename left a copy of the card: not a second card.
    if (!opts.readOnly && existsSync(FileNvm.upgradePath(path))) unlinkSync(FileNvm.upgradePath(path));
    return new FileNvm(fd, path, lock);
  }

  private static upgradePath(path: string): string {
    return `${path}.upgrade`;
  }

  /**
   * Replaces the whole image at once (a format upgrade): a new file, synced, renamed over the old
   * one, so that a crash leaves the old image or the new one, never a mixture.
   */
  replaceAll(bytes: Uint8Array): void {
    if (bytes.length !== this.size) throw new EcashError('card-internal', 'a replacement image must keep the image size');
    const tmp = FileNvm.upgradePath(this.path);
    const fd = openSync(tmp, 'w', fstatSync(this.handle).mode & 0o777);
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    closeSync(this.handle);
    this.fd = openSync(this.path, 'r+');
  }

  private get handle(): number {
    if (this.fd === undefined) throw new EcashError('card-closed', `the card image ${this.path} is closed`);
    return this.fd;
  }

  readAll(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    while (off < this.size) {
      const n = readSync(this.handle, out, off, this.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return out;
  }

  write(offset: number, bytes: Uint8Array): void {
    checkRange(this.size, offset, bytes.length);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.handle, bytes, done, bytes.length - done, offset + done);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.lock.release();
  }
}

/** Thrown by a torn write: power is gone, the card stops mid-command. */
export class CardTornError extends EcashError {
  constructor(readonly writeIndex: number) {
    super('card-torn', `power was lost at memory write ${writeIndex}`);
  }
}

export interface TearPlan {
  /** Index (from 0) of the write that tears, counting from when the plan is armed. */
  atWrite: number;
  /** How many leading bytes of the torn write still land (0: none). */
  landedBytes: (length: number) => number;
}

/**
 * Wraps a device so that one write tears: its first bytes land, the rest do not, and every
 * later write fails too (the card has no power). Counts writes whether or not a tear is armed,
 * so a test can first count the write points of a command and then tear at each.
 */
export class TearingNvm implements NvmDevice {
  writes = 0;
  private plan: TearPlan | undefined;
  private torn = false;

  constructor(private readonly inner: NvmDevice) {}

  get size(): number {
    return this.inner.size;
  }

  arm(plan: TearPlan | undefined): void {
    this.plan = plan;
    this.writes = 0;
  }

  get hasTorn(): boolean {
    return this.torn;
  }

  readAll(): Uint8Array {
    return this.inner.readAll();
  }

  write(offset: number, bytes: Uint8Array): void {
    const index = this.writes++;
    if (this.torn) throw new CardTornError(index);
    if (this.plan !== undefined && index === this.plan.atWrite) {
      this.torn = true;
      const landed = Math.max(0, Math.min(bytes.length, this.plan.landedBytes(bytes.length)));
      if (landed > 0) this.inner.write(offset, bytes.subarray(0, landed));
      throw new CardTornError(index);
    }
    this.inner.write(offset, bytes);
  }

  close(): void {
    this.inner.close();
  }
}
