/**
 * Native exponentiation for suite `modp2048-256` through Node's own OpenSSL: a Diffie-Hellman
 * object over the suite's prime, whose private key is set to the exponent, computes
 * base^k mod p as a "shared secret" (OpenSSL's constant-time Montgomery exponentiation).
 * Node only: it imports node:crypto, so nothing in core imports it; backends/index.ts loads it.
 */
import { createDiffieHellman } from 'node:crypto';
import { bigIntToBytes } from '../bytes.js';
import { MODP_G, MODP_P, type ModpPower } from '../suites/modp2048.js';

const LENGTH = 256;

export function opensslModpPower(): ModpPower {
  const dh = createDiffieHellman(bigIntToBytes(MODP_P, LENGTH), bigIntToBytes(MODP_G, LENGTH));
  return {
    pow: (base, k) => {
      // OpenSSL reads the key big-endian, leading zeros ignored; Node pads the secret to |p|.
      dh.setPrivateKey(bigIntToBytes(k, Math.max(1, Math.ceil(k.toString(16).length / 2))));
      return new Uint8Array(dh.computeSecret(base));
    },
  };
}
