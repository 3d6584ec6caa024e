/**
 * ISO/IEC 7816-4 command and response APDUs: the byte format both sides of a card channel use
 * (the card parses commands and builds responses, the reader bridge the other way round).
 * Short and extended lengths, all four cases.
 */
import { EcashError } from '../core/index.js';

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (empty for cases 1 and 2). */
  data: Uint8Array;
  /** Expected response length: undefined = none (cases 1, 3); 0 … 65536 otherwise (256/65536 = "all"). */
  le: number | undefined;
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

export const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  INVALID_DATA: 0x6a80,
  /** Record not found: PAY's "no coins add up to the amount" (docs/apdu.md). */
  RECORD_NOT_FOUND: 0x6a83,
  NOT_ENOUGH_MEMORY: 0x6a84,
  WRONG_P1P2: 0x6a86,
  DATA_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

/** 61xx: xx more bytes available through GET RESPONSE (00 = 256). */
export const isMoreData = (sw: number): boolean => sw >> 8 === 0x61;
/** 6Cxx: wrong Le, xx is the right one. */
export const isWrongLe = (sw: number): boolean => sw >> 8 === 0x6c;
/** 63Cx: wrong PIN, x tries left. */
export const pinTriesLeft = (sw: number): number | undefined => ((sw & 0xfff0) === 0x63c0 ? sw & 0x0f : undefined);

function checkByte(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new EcashError('bad-apdu', `${what} must be a byte`);
}

/**
 * Encodes a command, choosing the short form when data ≤ 255 bytes and Le ≤ 256, the extended
 * form otherwise (or always with `extended`).
 */
export function encodeCommand(c: CommandApdu, opts: { extended?: boolean } = {}): Uint8Array {
  checkByte(c.cla, 'CLA');
  checkByte(c.ins, 'INS');
  checkByte(c.p1, 'P1');
  checkByte(c.p2, 'P2');
  const n = c.data.length;
  if (n > 65535) throw new EcashError('bad-apdu', 'command data longer than 65535 bytes');
  if (c.le !== undefined && (!Number.isInteger(c.le) || c.le < 0 || c.le > 65536)) {
    throw new EcashError('bad-apdu', 'Le must be 0 … 65536');
  }
  const extended = opts.extended === true || n > 255 || (c.le !== undefined && c.le > 256);
  const head = [c.cla, c.ins, c.p1, c.p2];
  const out: number[] = [...head];
  if (!extended) {
    if (n > 0) out.push(n, ...c.data);
    if (c.le !== undefined) out.push(c.le === 256 ? 0 : c.le);
    return new Uint8Array(out);
  }
  if (n > 0) out.push(0, n >> 8, n & 0xff, ...c.data);
  if (c.le !== undefined) {
    const le = c.le === 65536 ? 0 : c.le;
    if (n === 0) out.push(0);
    out.push(le >> 8, le & 0xff);
  }
  return new Uint8Array(out);
}

/**
 * Strict parsing of a command APDU (ISO 7816-3 §12.1.3 cases). Throws EcashError
 * `bad-apdu-length` (the card answers 6700) for any length that matches no case.
 */
export function parseCommand(bytes: Uint8Array): CommandApdu & { extended: boolean } {
  const bad = (why: string): never => {
    throw new EcashError('bad-apdu-length', `malformed command APDU: ${why}`);
  };
  if (bytes.length < 4) bad('shorter than a header');
  const [cla, ins, p1, p2] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  const body = bytes.subarray(4);
  const L = body.length;
  const base = { cla, ins, p1, p2 };
  if (L === 0) return { ...base, data: new Uint8Array(0), le: undefined, extended: false }; // case 1
  if (L === 1) return { ...base, data: new Uint8Array(0), le: body[0] === 0 ? 256 : body[0]!, extended: false }; // case 2S
  if (body[0] !== 0) {
    const lc = body[0]!;
    if (L === 1 + lc) return { ...base, data: body.slice(1), le: undefined, extended: false }; // case 3S
    if (L === 2 + lc) {
      const le = body[1 + lc]!;
      return { ...base, data: body.slice(1, 1 + lc), le: le === 0 ? 256 : le, extended: false }; // case 4S
    }
    return bad(`Lc ${lc} does not match ${L - 1} bytes of body`);
  }
  // body[0] = 0 and L ≥ 2: extended forms.
  if (L === 3) {
    const le = (body[1]! << 8) | body[2]!;
    return { ...base, data: new Uint8Array(0), le: le === 0 ? 65536 : le, extended: true }; // case 2E
  }
  if (L < 3) return bad('truncated extended length');
  const lc = (body[1]! << 8) | body[2]!;
  if (lc === 0) return bad('extended Lc of zero');
  if (L === 3 + lc) return { ...base, data: body.slice(3, 3 + lc), le: undefined, extended: true }; // case 3E
  if (L === 5 + lc) {
    const le = (body[3 + lc]! << 8) | body[4 + lc]!;
    return { ...base, data: body.slice(3, 3 + lc), le: le === 0 ? 65536 : le, extended: true }; // case 4E
  }
  return bad(`extended Lc ${lc} does not match ${L - 3} bytes of body`);
}

export function encodeResponse(r: ResponseApdu): Uint8Array {
  const out = new Uint8Array(r.data.length + 2);
  out.set(r.data, 0);
  out[r.data.length] = r.sw >> 8;
  out[r.data.length + 1] = r.sw & 0xff;
  return out;
}

export function parseResponse(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new EcashError('bad-response', 'response APDU shorter than its status word');
  const n = bytes.length - 2;
  return { data: bytes.slice(0, n), sw: (bytes[n]! << 8) | bytes[n + 1]! };
}

export function swHex(sw: number): string {
  return sw.toString(16).padStart(4, '0').toUpperCase();
}
