/**
 * The cost model: every command counts its work (core's OpCounts from a metered group, plus the
 * bytes and writes to persistent memory), and a chip profile prices the counts in milliseconds so
 * the emulated card can answer as slowly as a real one. Figures and their sources: docs/card.md.
 */
import { EcashError, zeroCounts, type CommandCost, type SuiteId } from '../core/index.js';

export function zeroCost(): CommandCost {
  return { ...zeroCounts(), nvmBytesWritten: 0, nvmWrites: 0 };
}

/** Milliseconds per unit of work on one chip. */
export interface OperationPrices {
  /** A group exponentiation (EC scalar multiplication, or modular exponentiation). */
  exp: number;
  /** A group multiplication (EC point addition, or modular multiplication mod p). */
  groupMul: number;
  /** Multiplication, addition and inversion mod q. */
  scalarMul: number;
  scalarAdd: number;
  scalarInv: number;
  /** One hash to Z_q (SHA-512 of a short message). */
  hash: number;
  /** Checking that an encoded element is in the group. */
  decode: number;
  /** Persistent memory: per physical write and per byte written. */
  nvmWrite: number;
  nvmByte: number;
  /** Fixed cost of one command (dispatch, applet entry) and of each byte on the link. */
  command: number;
  ioByte: number;
}

export interface ChipProfile {
  id: string;
  name: string;
  /** One line on what the profile stands for and where its figures come from (docs/card.md). */
  summary: string;
  /** Prices for the elliptic-curve suites (ristretto255, P-256). */
  ec: OperationPrices;
  /** Prices that differ for the RFC 5114 modp suite (2048-bit modulus, through the RSA coprocessor). */
  modp: Partial<OperationPrices>;
}

/** ISO/IEC 14443 at fc/128 = 106 kbit/s, 9 bits a byte plus framing: about 0.1 ms a byte. */
const CONTACTLESS_106K_MS_PER_BYTE = 0.1;
/** Assumed for every profile: EEPROM page programming of about 1 ms per write of up to 64 bytes. */
const EEPROM = { nvmWrite: 1, nvmByte: 1 / 64 } as const;
/** Assumed for every profile: a hardware SHA-512 of a few hundred bytes. */
const HASH_MS = 5;

/**
 * Chip profiles. The JCOP and SmartCafe figures are JCMathLib's published measurements
 * (PERFORMANCE.md, 16 July 2023) minus that table's storage-only round trip on the same card;
 * `interpreted` is the example of a chip without a usable coprocessor.
 */
export const CHIP_PROFILES: Readonly<Record<string, ChipProfile>> = {
  jcop4: {
    id: 'jcop4',
    name: 'NXP JCOP4 J3R200 (P71), JCMathLib',
    summary: 'EC through the ECDH/ECDSA engines, mod-q arithmetic through the RSA coprocessor',
    ec: { exp: 51, groupMul: 66, scalarMul: 160, scalarAdd: 25, scalarInv: 38, hash: HASH_MS, decode: 9, ...EEPROM, command: 9, ioByte: CONTACTLESS_106K_MS_PER_BYTE },
    modp: { exp: 280, groupMul: 90, decode: 280 },
  },
  jcop3: {
    id: 'jcop3',
    name: 'NXP JCOP3 J3H145 (P60), JCMathLib',
    summary: 'the previous JCOP generation: EC operations about three times slower',
    ec: { exp: 185, groupMul: 229, scalarMul: 212, scalarAdd: 36, scalarInv: 51, hash: HASH_MS, decode: 16, ...EEPROM, command: 11, ioByte: CONTACTLESS_106K_MS_PER_BYTE },
    modp: { exp: 370, groupMul: 108, decode: 370 },
  },
  smartcafe7: {
    id: 'smartcafe7',
    name: 'G+D SmartCafe 7.0, JCMathLib',
    summary: 'no fast EC point arithmetic: seconds per exponentiation',
    ec: { exp: 3100, groupMul: 2713, scalarMul: 650, scalarAdd: 22, scalarInv: 546, hash: HASH_MS, decode: 10, ...EEPROM, command: 7, ioByte: CONTACTLESS_106K_MS_PER_BYTE },
    modp: { exp: 4200, groupMul: 1108, decode: 4200 },
  },
  interpreted: {
    id: 'interpreted',
    name: 'Java Card without a usable coprocessor (bytecode big-number arithmetic)',
    summary: '800 ms per 256-bit modular multiplication; an exponentiation is ~3,800 of them',
    ec: {
      exp: 800 * 3840,
      groupMul: 800 * 12,
      scalarMul: 800,
      scalarAdd: 40,
      scalarInv: 800 * 300,
      hash: HASH_MS,
      decode: 800 * 4,
      ...EEPROM,
      command: 10,
      ioByte: CONTACTLESS_106K_MS_PER_BYTE,
    },
    modp: { exp: 800 * 64 * 384, groupMul: 800 * 64, decode: 800 * 64 * 384 },
  },
};

export function chipProfile(id: string): ChipProfile {
  const p = CHIP_PROFILES[id];
  if (p === undefined) {
    throw new EcashError('unknown-chip-profile', `unknown chip profile "${id}"; known profiles: ${Object.keys(CHIP_PROFILES).join(', ')}`);
  }
  return p;
}

export function pricesFor(profile: ChipProfile, suite: SuiteId | undefined): OperationPrices {
  return suite === 'modp2048-256' ? { ...profile.ec, ...profile.modp } : profile.ec;
}

/**
 * What one command would take on the chip: its fixed cost, the bytes on the link, the group and
 * scalar operations (a multi-exponentiation as one exponentiation and one multiplication per
 * base: a card has no multi-exponentiation engine) and the memory writes.
 */
export function modelledMs(cost: CommandCost, linkBytes: number, prices: OperationPrices): number {
  return (
    prices.command +
    linkBytes * prices.ioByte +
    (cost.exp + cost.multiExpBases) * prices.exp +
    (cost.groupMul + cost.multiExpBases) * prices.groupMul +
    cost.scalarMul * prices.scalarMul +
    cost.scalarAdd * prices.scalarAdd +
    cost.scalarInv * prices.scalarInv +
    cost.hash * prices.hash +
    cost.decode * prices.decode +
    cost.nvmWrites * prices.nvmWrite +
    cost.nvmBytesWritten * prices.nvmByte
  );
}

export function addCost(into: CommandCost, from: CommandCost): void {
  for (const k of Object.keys(from) as (keyof CommandCost)[]) into[k] += from[k];
}
