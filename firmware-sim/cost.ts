/**
 * The cost model: every command counts its work (core's OpCounts from a metered group, plus the
 * bytes and writes to persistent memory), and a chip profile prices the counts in milliseconds so
 * the emulated card can answer as slowly as a real one. Figures and their sources: docs/card.md.
 */
import { EcashError, zeroCounts, type SuiteId } from '../core/index.js';
import type { CommandCost } from '../wire/index.js';

export function zeroCost(): CommandCost {
  return { ...zeroCounts(), nvmBytesWritten: 0, nvmWrites: 0 };
}

/**
 * Milliseconds per unit of work on one chip: a group exponentiation (EC scalar multiplication or
 * modular exponentiation), a group multiplication (point addition, or multiplication mod p), a
 * multiplication, addition and inversion mod q, one hash to Z_q, one membership check of an
 * encoded element, one persistent-memory write and each byte written, the fixed cost of a command
 * (dispatch, applet entry) and each byte on the link.
 */
export type PricedOperation =
  | 'exp'
  | 'groupMul'
  | 'scalarMul'
  | 'scalarAdd'
  | 'scalarInv'
  | 'hash'
  | 'decode'
  | 'nvmWrite'
  | 'nvmByte'
  | 'command'
  | 'ioByte';
export type OperationPrices = Record<PricedOperation, number>;

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
 * One card's row of JCMathLib's published measurements (PERFORMANCE.md, 16 July 2023), in ms per
 * APDU round trip: eccMultiplyRandom, eccAdd, bigNatModMult, bigNatModAdd, bigNatModInv,
 * bigNatModExp, bigNatModSq, eccEncode(uncompressed_in_out), and the two storage-only rows.
 */
interface JcmathlibRow {
  ecMul: number;
  ecAdd: number;
  modMult: number;
  modAdd: number;
  modInv: number;
  modExp: number;
  modSq: number;
  ecEncode: number;
  bigNatStorage: number;
  integerStorage: number;
}

/**
 * Net operation costs: each row minus the same card's bigNatStorage round trip (the transfer and
 * operand set-up every row carries); the command cost is integerStorage. The modp figures are
 * estimates (docs/card.md): an exponentiation 8× the 256-bit modExp, a multiplication mod p two
 * engine squarings, a membership check one exponentiation.
 */
function fromJcmathlib(id: string, name: string, summary: string, row: JcmathlibRow): ChipProfile {
  const net = (ms: number) => ms - row.bigNatStorage;
  const modpExp = 8 * net(row.modExp);
  return {
    id,
    name,
    summary,
    ec: {
      exp: net(row.ecMul),
      groupMul: net(row.ecAdd),
      scalarMul: net(row.modMult),
      scalarAdd: net(row.modAdd),
      scalarInv: net(row.modInv),
      hash: HASH_MS,
      decode: net(row.ecEncode),
      ...EEPROM,
      command: row.integerStorage,
      ioByte: CONTACTLESS_106K_MS_PER_BYTE,
    },
    modp: { exp: modpExp, groupMul: 2 * net(row.modSq), decode: modpExp },
  };
}

/** 800 ms per 256-bit modular multiplication in bytecode (the figure); docs/card.md derives the rest. */
const BYTECODE_MODMUL_MS = 800;

export const CHIP_PROFILES: Readonly<Record<string, ChipProfile>> = {
  jcop4: fromJcmathlib(
    'jcop4',
    'NXP JCOP4 J3R200 (P71), JCMathLib',
    'EC through the ECDH/ECDSA engines, mod-q arithmetic through the RSA coprocessor',
    {
      ecMul: 71,
      ecAdd: 86,
      modMult: 180,
      modAdd: 45,
      modInv: 58,
      modExp: 55,
      modSq: 65,
      ecEncode: 29,
      bigNatStorage: 20,
      integerStorage: 9,
    },
  ),
  jcop3: fromJcmathlib(
    'jcop3',
    'NXP JCOP3 J3H145 (P60), JCMathLib',
    'the previous JCOP generation: EC operations about three times slower',
    {
      ecMul: 206,
      ecAdd: 250,
      modMult: 233,
      modAdd: 57,
      modInv: 72,
      modExp: 67,
      modSq: 75,
      ecEncode: 37,
      bigNatStorage: 21,
      integerStorage: 11,
    },
  ),
  smartcafe7: fromJcmathlib('smartcafe7', 'G+D SmartCafe 7.0, JCMathLib', 'no fast EC point arithmetic: seconds per exponentiation', {
    ecMul: 3110,
    ecAdd: 2723,
    modMult: 660,
    modAdd: 32,
    modInv: 556,
    modExp: 537,
    modSq: 564,
    ecEncode: 20,
    bigNatStorage: 10,
    integerStorage: 7,
  }),
  interpreted: {
    id: 'interpreted',
    name: 'Java Card without a usable coprocessor (bytecode big-number arithmetic)',
    summary: '800 ms per 256-bit modular multiplication; an exponentiation is ~3,800 of them',
    ec: {
      exp: BYTECODE_MODMUL_MS * 3840,
      groupMul: BYTECODE_MODMUL_MS * 12,
      scalarMul: BYTECODE_MODMUL_MS,
      scalarAdd: 40,
      scalarInv: BYTECODE_MODMUL_MS * 300,
      hash: HASH_MS,
      decode: BYTECODE_MODMUL_MS * 4,
      ...EEPROM,
      command: 10,
      ioByte: CONTACTLESS_106K_MS_PER_BYTE,
    },
    modp: { exp: BYTECODE_MODMUL_MS * 64 * 384, groupMul: BYTECODE_MODMUL_MS * 64, decode: BYTECODE_MODMUL_MS * 64 * 384 },
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
