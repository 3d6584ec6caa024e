/**
 * Randomness. Every random choice in the protocol goes through a RandomSource, so tests and
 * vectors can inject a deterministic one; production uses the platform CSPRNG.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, u64be, utf8 } from './bytes.js';
import type { Group } from './group.js';

export interface RandomSource {
  bytes(n: number): Uint8Array;
}

/** Bytes drawn from the CSPRNG at once (a call cost about 8 µs whatever its size, timed once here). */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolUsed = 0;

/**
 * The platform CSPRNG (WebCrypto getRandomValues, OpenSSL-backed in Node). Small requests are cut
 * from a pool filled 4 KiB at a time, as Node's randomUUID does: a bank withdrawal asks for a few
 * dozen bytes, and one call per request cost it more than the bytes. Bytes handed out are wiped
 * from the pool, so a secret drawn from it is not left behind there.
 */
export const systemRandom: RandomSource = {
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    if (n > POOL_BYTES / 8) {
      for (let off = 0; off < n; off += 65536) {
        globalThis.crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
      }
      return out;
    }
    if (poolUsed + n > pool.length) {
      pool = globalThis.crypto.getRandomValues(new Uint8Array(POOL_BYTES));
      poolUsed = 0;
    }
    const slice = pool.subarray(poolUsed, poolUsed + n);
    out.set(slice);
    slice.fill(0);
    poolUsed += n;
    return out;
  },
};

/**
 * A deterministic stream for test vectors only: block_i = SHA-512("ECASH-V1/TEST-RNG" ‖ seed ‖
 * u64be(i)). Never use it for real keys.
 */
export function seededRandom(seed: string | Uint8Array): RandomSource {
  const seedBytes = typeof seed === 'string' ? utf8(seed) : seed;
  const tagBytes = utf8('ECASH-V1/TEST-RNG');
  let counter = 0n;
  let buf: Uint8Array = new Uint8Array(0);
  return {
    bytes(n: number): Uint8Array {
      while (buf.length < n) {
        buf = concatBytes(buf, sha512(concatBytes(tagBytes, seedBytes, u64be(counter++))));
      }
      const out = buf.slice(0, n);
      buf = buf.slice(n);
      return out;
    },
  };
}

function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Uniform in Z_q (64 bytes reduced mod a 256-bit q: bias below 2^-256). */
export function randomScalar(group: Group, rng: RandomSource): bigint {
  return bytesToBig(rng.bytes(64)) % group.q;
}

/** Uniform in Z_q*. */
export function randomNonZeroScalar(group: Group, rng: RandomSource): bigint {
  for (;;) {
    const k = randomScalar(group, rng);
    if (k !== 0n) return k;
  }
}

/** A nonzero 128-bit weight for batch verification. */
export function randomWeight(rng: RandomSource): bigint {
  for (;;) {
    const w = bytesToBig(rng.bytes(16));
    if (w !== 0n) return w;
  }
}
