/**
 * The APDU trace of each simulated reader's current tap (docs/sim.md, "Traces"): every command a
 * terminal sent to the card in the reader since it was inserted, with the card's answer, a short
 * name, and the time the card's chip profile says the command takes. A command that carries a PIN
 * or PUK (VERIFY, CHANGE, UNBLOCK, and the applet's PERSONALISE and SET LIMIT) keeps its 4-byte
 * header only: its length and data are dropped here, before anything is stored, so no answer, page
 * or log can show them. The watchers (the API's event stream) hear every change.
 */
import { toHex } from '../../core/index.js';
import type { CardExchange } from '../../firmware-sim/index.js';
import { carriesSecret } from '../../reader-bridge/index.js';
import { CLA_CHAINING, CLA_ECASH, ECASH_INS, ISO_INS, parseCommand, swHex } from '../../wire/index.js';

/** One command of a tap and the card's answer. */
export interface TracedExchange {
  /** 1, 2, … within the tap. */
  seq: number;
  /** When the card answered (ms since the epoch). */
  at: number;
  /** SELECT, VERIFY PIN, PAY, …; `INS xx` for an instruction the card does not define. */
  name: string;
  command: {
    /** CLA INS P1 P2 as 8 hex digits. */
    header: string;
    /** Lc and Le, null when absent or redacted. */
    lc: number | null;
    le: number | null;
    /** The command data as hex; null when the command carries a PIN or PUK (or is malformed). */
    data: string | null;
    redacted: boolean;
  };
  /** The card's answer; null when the card left the field before it answered (it still acted). */
  response: { length: number; data: string; sw: string; status: string } | null;
  /** Time the emulator took, and the time the card's chip profile models (null without a profile). */
  emulatorMs: number;
  chipMs: number | null;
}

export interface TapTrace {
  reader: string;
  /** Counts insertions across the simulator: a new tap, a new trace. */
  tap: number;
  card: string;
  /** When the card went in, and came out (null while it is in). */
  insertedAt: number;
  removedAt: number | null;
  exchanges: TracedExchange[];
  /** Oldest exchanges left out to keep the trace at MAX_EXCHANGES. */
  dropped: number;
}

export type SimEvent =
  | { type: 'state' }
  | { type: 'tap'; trace: TapTrace }
  | { type: 'exchange'; reader: string; tap: number; exchange: TracedExchange };

export type SimWatcher = (event: SimEvent) => void;

/** A tap is a few dozen commands; a card left in a reader and polled for hours must not grow without bound. */
export const MAX_EXCHANGES = 500;

const ISO_NAMES = new Map<number, string>([
  [ISO_INS.SELECT, 'SELECT'],
  [ISO_INS.GET_RESPONSE, 'GET RESPONSE'],
  [ISO_INS.VERIFY, 'VERIFY PIN'],
  [ISO_INS.CHANGE_REFERENCE_DATA, 'CHANGE PIN'],
  [ISO_INS.RESET_RETRY_COUNTER, 'UNBLOCK PIN'],
]);
const ECASH_NAMES = new Map<number, string>(Object.entries(ECASH_INS).map(([name, ins]) => [ins, name.replaceAll('_', ' ')]));

function commandName(command: Uint8Array): string {
  if (command.length < 2) return 'malformed';
  const cla = command[0]! & ~CLA_CHAINING;
  const ins = command[1]!;
  const name = cla === CLA_ECASH ? ECASH_NAMES.get(ins) : cla === 0 ? ISO_NAMES.get(ins) : undefined;
  return name ?? `INS ${toHex(command.subarray(1, 2))}`;
}

const SW_MEANINGS = new Map<number, string>([
  [0x9000, 'ok'],
  [0x6700, 'wrong length'],
  [0x6982, 'PIN required'],
  [0x6983, 'blocked'],
  [0x6985, 'conditions not satisfied'],
  [0x6a80, 'invalid data'],
  [0x6a83, 'no coins add up to the amount'],
  [0x6a84, 'card full'],
  [0x6a86, 'wrong P1-P2'],
  [0x6a88, 'not found'],
  [0x6d00, 'unknown instruction'],
  [0x6e00, 'unknown class'],
  [0x6f00, 'card error'],
]);

function swMeaning(sw: number): string {
  if (sw >> 8 === 0x61) return `${sw & 0xff || 256} more bytes`;
  if (sw >> 8 === 0x6c) return `wrong Le, use ${sw & 0xff}`;
  if ((sw & 0xfff0) === 0x63c0) return `wrong PIN, ${sw & 0x0f} tries left`;
  return SW_MEANINGS.get(sw) ?? 'error';
}

function describeCommand(command: Uint8Array): TracedExchange['command'] {
  const header = toHex(command.subarray(0, 4));
  if (carriesSecret(command)) return { header, lc: null, le: null, data: null, redacted: true };
  try {
    const c = parseCommand(command);
    return { header, lc: c.data.length === 0 ? null : c.data.length, le: c.le ?? null, data: toHex(c.data), redacted: false };
  } catch {
    return { header, lc: null, le: null, data: null, redacted: false };
  }
}

/** The record of one exchange, PINs and PUKs gone; `torn`: the card left before its answer was out. */
export function traceExchange(seq: number, e: CardExchange, torn: boolean): TracedExchange {
  const n = e.response.length;
  const sw = n >= 2 ? (e.response[n - 2]! << 8) | e.response[n - 1]! : 0x6f00;
  return {
    seq,
    at: Date.now(),
    name: commandName(e.command),
    command: describeCommand(e.command),
    response: torn
      ? null
      : { length: Math.max(0, n - 2), data: toHex(e.response.subarray(0, Math.max(0, n - 2))), sw: swHex(sw), status: swMeaning(sw) },
    emulatorMs: Math.round(e.elapsedMs * 1000) / 1000,
    chipMs: e.modelledMs === undefined ? null : Math.round(e.modelledMs * 1000) / 1000,
  };
}

/** The readers' current taps and the watchers of the simulator. */
export class Taps {
  private readonly current = new Map<string, TapTrace>();
  private readonly watchers = new Set<SimWatcher>();
  private taps = 0;

  /** Calls `watcher` on every change; returns the function that stops it. */
  watch(watcher: SimWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Readers, cards or a removal plan changed. */
  changed(): void {
    this.emit({ type: 'state' });
  }

  /** A card went into `reader`: a new, empty trace; returns what records the card's exchanges. */
  start(reader: string, card: string): (e: CardExchange, torn: boolean) => void {
    const trace: TapTrace = { reader, tap: ++this.taps, card, insertedAt: Date.now(), removedAt: null, exchanges: [], dropped: 0 };
    this.current.set(reader, trace);
    this.emit({ type: 'tap', trace });
    let seq = 0;
    return (e, torn) => {
      const exchange = traceExchange(++seq, e, torn);
      trace.exchanges.push(exchange);
      if (trace.exchanges.length > MAX_EXCHANGES) {
        trace.exchanges.shift();
        trace.dropped++;
      }
      this.emit({ type: 'exchange', reader, tap: trace.tap, exchange });
    };
  }

  /** The card left `reader`: its trace, closed, stays until the next card goes in. */
  end(reader: string): void {
    const trace = this.current.get(reader);
    if (trace === undefined || trace.removedAt !== null) return;
    trace.removedAt = Date.now();
    this.emit({ type: 'tap', trace });
  }

  /** The reader's current (or last) tap; null before any card went in. */
  trace(reader: string): TapTrace | null {
    return this.current.get(reader) ?? null;
  }

  private emit(event: SimEvent): void {
    for (const w of this.watchers) w(event);
  }
}
