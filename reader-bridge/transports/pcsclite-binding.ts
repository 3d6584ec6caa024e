/**
 * A narrow, typed view of the parts of `pcsclite@1.0.1` the PC/SC transport uses (the package's
 * own declarations type errors as `any`), its lazy loading, and the PC/SC result codes the
 * transport tells apart. Loaded with a dynamic import so that every other transport works when
 * the optional native module is missing.
 */
import { bridgeError, BRIDGE_ERROR } from '../errors.js';

type Callback<T> = (err: Error | null | undefined, value: T) => void;

export interface PcscReaderStatus {
  state: number;
  atr?: Buffer;
}

export interface PcscCardReader {
  readonly name: string;
  readonly connected: boolean;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_SHARE_EXCLUSIVE: number;
  readonly SCARD_PROTOCOL_T0: number;
  readonly SCARD_PROTOCOL_T1: number;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_STATE_MUTE: number;
  readonly SCARD_LEAVE_CARD: number;
  readonly SCARD_RESET_CARD: number;
  readonly SCARD_UNPOWER_CARD: number;
  on(event: 'status', listener: (status: PcscReaderStatus) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'end', listener: () => void): this;
  connect(options: { share_mode: number; protocol: number }, callback: Callback<number>): void;
  disconnect(disposition: number, callback: (err: Error | null | undefined) => void): void;
  /** `responseLength` sizes the receive buffer: too small loses a response the card acted on. */
  transmit(data: Buffer, responseLength: number, protocol: number, callback: Callback<Buffer>): void;
  close(): void;
}

/** One PC/SC context with its reader monitor thread (pcsclite's PCSCLite object). */
export interface PcscContext {
  on(event: 'reader', listener: (reader: PcscCardReader) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  /** pcsclite calls this itself on the next tick; each call back is one scan of the reader list. */
  start(callback: (err: Error | null | undefined, readerNames: Buffer) => void): void;
  close(): void;
}

export type PcscFactory = () => PcscContext;

const INSTALL_HINT =
  'install the system packages libpcsclite-dev and pcscd (Debian/Ubuntu: apt-get install libpcsclite-dev pcscd), then run `npm install` again';

/** Imports pcsclite, or explains which system packages it needs. */
export async function loadPcsclite(moduleName = 'pcsclite'): Promise<PcscFactory> {
  try {
    const mod = (await import(moduleName)) as { default: unknown };
    if (typeof mod.default !== 'function') throw new Error(`${moduleName} does not export a function`);
    return mod.default as PcscFactory;
  } catch (e) {
    throw bridgeError(
      BRIDGE_ERROR.PCSC_UNAVAILABLE,
      `PC/SC support (the optional npm package ${moduleName}) is not available: ${INSTALL_HINT}`,
      {
        cause: e,
      },
    );
  }
}

/**
 * Opens a context and reports the end of every scan of the reader list: pcsclite emits its
 * `reader` events synchronously inside its scan callback, so a hook run after that callback
 * knows the list is complete (pcsclite itself has no such event).
 */
export function openPcscContext(factory: PcscFactory, onScanned: (error: Error | undefined) => void): PcscContext {
  let context: PcscContext;
  try {
    context = factory();
  } catch (e) {
    throw unavailable(e);
  }
  const start = context.start.bind(context);
  context.start = (callback) =>
    start((err, names) => {
      callback(err, names);
      onScanned(err ?? undefined);
    });
  return context;
}

/** pcscd not reachable: what to start. */
export function unavailable(cause: unknown): Error {
  const why = cause instanceof Error ? cause.message : String(cause);
  return bridgeError(
    BRIDGE_ERROR.PCSC_UNAVAILABLE,
    `the PC/SC service is not reachable (${why}): start pcscd (systemctl start pcscd.socket, or pcscd -f as root); if it is not installed, ${INSTALL_HINT}`,
    { cause },
  );
}

export const PCSC = {
  CANCELLED: 0x80100002,
  INVALID_HANDLE: 0x80100003,
  UNKNOWN_READER: 0x80100009,
  TIMEOUT: 0x8010000a,
  SHARING_VIOLATION: 0x8010000b,
  NO_SMARTCARD: 0x8010000c,
  PROTO_MISMATCH: 0x8010000f,
  NOT_READY: 0x80100010,
  COMM_ERROR: 0x80100013,
  NOT_TRANSACTED: 0x80100016,
  READER_UNAVAILABLE: 0x80100017,
  NO_SERVICE: 0x8010001d,
  SERVICE_STOPPED: 0x8010001e,
  NO_READERS_AVAILABLE: 0x8010002e,
  UNRESPONSIVE_CARD: 0x80100066,
  UNPOWERED_CARD: 0x80100067,
  RESET_CARD: 0x80100068,
  REMOVED_CARD: 0x80100069,
} as const;

/** The PC/SC result code in a pcsclite error message ("SCardTransmit error: …(0x80100069)"). */
export function pcscResult(error: Error): number | undefined {
  const m = /\(0x([0-9a-fA-F]{8})\)/.exec(error.message);
  return m ? parseInt(m[1]!, 16) : undefined;
}
