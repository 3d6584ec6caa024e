/**
 * Hash encodings of docs/protocol.md. A hash input is a list of fields, each written as a 4-byte
 * big-endian length and its bytes; the first field is a domain tag. Digest: SHA-512, read as a
 * big-endian integer, reduced mod q.
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToBigInt, u32be, utf8 } from './bytes.js';

export const TAG_H = 'ECASH-V1/H';
export const TAG_H0 = 'ECASH-V1/H0';
export const TAG_OPEN = 'ECASH-V1/OPEN';
export const TAG_KEY_ID = 'ECASH-V1/KEYID';
export const TAG_COIN_ID = 'ECASH-V1/COIN';
export const TAG_NONCE_KEY = 'ECASH-V1/W-KEY';
export const TAG_NONCE = 'ECASH-V1/W';

/** f(x1) ‖ f(x2) ‖ … with f(x) = len32be(x) ‖ x. */
export function encodeFields(fields: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const f of fields) n += 4 + f.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const f of fields) {
    out.set(u32be(f.length), off);
    out.set(f, off + 4);
    off += 4 + f.length;
  }
  return out;
}

export function sha512FieldsModQ(fields: readonly Uint8Array[], q: bigint): bigint {
  return bytesToBigInt(sha512(encodeFields(fields))) % q;
}

export function sha256Fields(fields: readonly Uint8Array[]): Uint8Array {
  return sha256(encodeFields(fields));
}

/** The domain tag field for a hash. */
export function tag(t: string): Uint8Array {
  return utf8(t);
}
