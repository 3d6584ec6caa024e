/**
 * Several transports seen as one set of readers (PC/SC and HID on one machine, as `ecash readers`
 * and the remote bridge serve them). A transport that is not available here (no pcscd, no
 * node-hid) does not hide the others; `survey` says why it is missing. When none is available
 * (a remote bridge that is down or refuses the token, say), listing and connecting fail with the
 * reason at once: "no readers" would send the user looking for a card that is not the problem.
 */
import { EcashError, type ErrorCode, isEcashError } from '../core/index.js';
import { noReader } from './errors.js';
import type { CardChannel, ConnectOptions, ReaderEventListener, ReaderInfo, ReaderTransport, TransportKind } from './transport.js';

/** What a host needs of "the readers": a transport, or a set of them. */
export type ReaderSource = Pick<ReaderTransport, 'listReaders' | 'watch' | 'connect' | 'close'>;

export interface UnavailableTransport {
  transport: TransportKind;
  code: ErrorCode;
  message: string;
}

export class ReaderSet implements ReaderSource {
  constructor(readonly transports: readonly ReaderTransport[]) {}

  async survey(): Promise<{ readers: ReaderInfo[]; unavailable: UnavailableTransport[] }> {
    const readers: ReaderInfo[] = [];
    const unavailable: UnavailableTransport[] = [];
    for (const t of this.transports) {
      try {
        readers.push(...(await t.listReaders()));
      } catch (e) {
        if (!isEcashError(e)) throw e;
        unavailable.push({ transport: t.kind, code: e.code, message: e.message });
      }
    }
    return { readers, unavailable };
  }

  async listReaders(): Promise<ReaderInfo[]> {
    return (await this.surveyAvailable()).readers;
  }

  /** `survey`, but failing with the first transport's reason when no transport is available. */
  async surveyAvailable(): Promise<{ readers: ReaderInfo[]; unavailable: UnavailableTransport[] }> {
    const survey = await this.survey();
    const first = survey.unavailable[0];
    if (first !== undefined && survey.unavailable.length === this.transports.length) throw new EcashError(first.code, first.message);
    return survey;
  }

  watch(listener: ReaderEventListener): () => void {
    const stops = this.transports.map((t) => t.watch(listener));
    return () => stops.forEach((stop) => stop());
  }

  async connect(readerName: string, options?: ConnectOptions): Promise<CardChannel> {
    const notes: string[] = [];
    const failures: EcashError[] = [];
    for (const t of this.transports) {
      let readers: ReaderInfo[];
      try {
        readers = await t.listReaders();
      } catch (e) {
        if (!isEcashError(e)) throw e;
        notes.push(`${t.kind} is not available here: ${e.message}`);
        failures.push(e);
        continue;
      }
      if (readers.some((r) => r.name === readerName)) return t.connect(readerName, options);
    }
    if (failures.length === this.transports.length && failures[0] !== undefined) throw failures[0];
    throw noReader(readerName, notes);
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
  }
}
