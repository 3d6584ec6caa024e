/** Byte-string helpers with explicit, strict encodings (no silent truncation, no odd hex). */
import { EcashError } from './errors.js';

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Strict lowercase hex decoding; `what` names the field in the error. */
export function fromHex(hex: string, what = 'value', expectedLength?: number): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new EcashError('bad-hex', `${what} must be a string of lowercase hex digits with an even length`);
  }
  const out = new Uint8Array(Buffer.from(hex, 'hex'));
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new EcashError('bad-length', `${what} must be ${expectedLength} bytes (${expectedLength * 2} hex digits), got ${out.length}`);
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function u16be(n: number): Uint8Array {
  return new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
}

export function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, false);
  return out;
}

/** Unsigned 64-bit big-endian; `n` must be a safe non-negative integer or a bigint < 2^64. */
export function u64be(n: number | bigint): Uint8Array {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new EcashError('out-of-range', 'a 64-bit field is out of range');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Big-endian bytes to a non-negative integer. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + toHex(bytes));
}

/** A non-negative integer to exactly `length` big-endian bytes. */
export function bigIntToBytes(n: bigint, length: number): Uint8Array {
  if (n < 0n) throw new EcashError('out-of-range', 'cannot encode a negative integer');
  const hex = n.toString(16);
  if (hex.length > length * 2) throw new EcashError('out-of-range', `integer does not fit in ${length} bytes`);
  return fromHex(hex.padStart(length * 2, '0'));
}

/** Overwrite a buffer holding secret material (best effort in a garbage-collected runtime). */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}

/**
 * A cursor over a byte string for strict binary parsing: every read checks bounds and the
 * caller must call `end()` to reject trailing bytes.
 */
export class ByteReader {
  private off = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.off;
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.off + n > this.bytes.length) {
      throw new EcashError('truncated', `${this.what} is truncated: needed ${n} more bytes, ${this.remaining} left`);
    }
    const out = this.bytes.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }

  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
  }

  u64(): bigint {
    const b = this.take(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false);
  }

  /** A 2-byte-length-prefixed field. */
  var16(): Uint8Array {
    return this.take(this.u16());
  }

  end(): void {
    if (this.remaining !== 0) {
      throw new EcashError('trailing-bytes', `${this.what} has ${this.remaining} unexpected trailing bytes`);
    }
  }
}
