/**
 * Several transports seen as one set of readers (PC/SC and HID on one machine, as `ecash readers`
 * and the remote bridge serve them). A transport that is not available here (no pcscd, no
 * node-hid) does not hide the others; `survey` says why it is missing.
 */
import { isEcashError } from '../core/index.js';
import { noReader } from './errors.js';
import type { CardChannel, ConnectOptions, ReaderEventListener, ReaderInfo, ReaderTransport, TransportKind } from './transport.js';

/** What a host needs of "the readers": a transport, or a set of them. */
export type ReaderSource = Pick<ReaderTransport, 'listReaders' | 'watch' | 'connect' | 'close'>;

export interface UnavailableTransport {
  transport: TransportKind;
  code: string;
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
    return (await this.survey()).readers;
  }

  watch(listener: ReaderEventListener): () => void {
    const stops = this.transports.map((t) => t.watch(listener));
    return () => stops.forEach((stop) => stop());
  }

  async connect(readerName: string, options?: ConnectOptions): Promise<CardChannel> {
    const notes: string[] = [];
    for (const t of this.transports) {
      let readers: ReaderInfo[];
      try {
        readers = await t.listReaders();
      } catch (e) {
        if (!isEcashError(e)) throw e;
        notes.push(`${t.kind} is not available here: ${e.message}`);
        continue;
      }
      if (readers.some((r) => r.name === readerName)) return t.connect(readerName, options);
    }
    throw noReader(readerName, notes);
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
  }
}
