/**
 * A plain PC/SC client straight on the `pcsclite` npm package (no project code in between), for
 * the card's end-to-end tests and the `apdu_rtt_pcsc_ms` benchmark. It waits for the reader and
 * its card (pcscd may be restarting), then connects, retrying while the card is still coming up.
 */

type Callback<T> = (err: unknown, value: T) => void;

/** The few parts of pcsclite@1.0.1 this client uses (its own typings do not export them). */
interface CardReader {
  readonly name: string;
  readonly connected: boolean;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_PROTOCOL_T1: number;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_RESET_CARD: number;
  on(event: 'status', listener: (status: { state: number }) => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  connect(options: { share_mode: number; protocol: number }, callback: Callback<number>): void;
  transmit(data: Buffer, responseLength: number, protocol: number, callback: Callback<Buffer>): void;
  disconnect(disposition: number, callback: (err: unknown) => void): void;
}

interface PCSCLite {
  on(event: 'reader', listener: (reader: CardReader) => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  close(): void;
}

export interface PlainPcscCard {
  transmit(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A name, not a literal, so that the type check passes where the optional package is not installed. */
const PCSCLITE: string = 'pcsclite';

const SELECT_ECASH = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x07, 0xf0, 0x45, 0x43, 0x41, 0x53, 0x48, 0x01, 0x00]);

/** Room for the largest extended response, so no answer is ever cut (docs/bridge.md). */
const RESPONSE_BUFFER = 65538;

/**
 * Connects to the card in `readerName`, and sends `probe` (default: SELECT of the e-cash applet)
 * until it goes through: right after one card leaves a slot and another enters it, pcscd can
 * still hand out a connection to the old one, whose first exchange fails.
 */
export async function connectPlain(readerName: string, timeoutMs = 20_000, probe: Uint8Array = SELECT_ECASH): Promise<PlainPcscCard> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const link = await connectOnce(readerName, Math.max(1, deadline - Date.now()));
    try {
      await link.transmit(probe);
      return link;
    } catch (e) {
      await link.close();
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A pcsclite context that reports the states of one reader until the returned stop() is called. */
async function watchReader(readerName: string, onState: (reader: CardReader, present: boolean) => void): Promise<() => void> {
  const pcsclite = ((await import(PCSCLITE)) as { default: unknown }).default as () => PCSCLite;
  const pcsc = pcsclite();
  pcsc.on('error', () => undefined);
  pcsc.on('reader', (reader) => {
    reader.on('error', () => undefined);
    if (reader.name === readerName) reader.on('status', (status) => onState(reader, (status.state & reader.SCARD_STATE_PRESENT) !== 0));
  });
  return () => pcsc.close();
}

/**
 * Waits until pcscd sees the slot empty: after a served card goes away, a card served next into
 * the same slot is then seen as a new card, not as the old one reset.
 */
export async function waitUntilEmpty(readerName: string, timeoutMs = 10_000): Promise<void> {
  let stop: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reader "${readerName}" still holds a card after ${timeoutMs} ms`)), timeoutMs);
      void watchReader(readerName, (_reader, present) => {
        if (!present) {
          clearTimeout(timer);
          resolve();
        }
      }).then((s) => (stop = s));
    });
  } finally {
    stop?.();
  }
}

async function connectOnce(readerName: string, timeoutMs: number): Promise<PlainPcscCard> {
  let stop: () => void = () => undefined;
  return new Promise<PlainPcscCard>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      stop();
      reject(new Error(`no card in reader "${readerName}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const tryConnect = (reader: CardReader) => {
      reader.connect({ share_mode: reader.SCARD_SHARE_SHARED, protocol: reader.SCARD_PROTOCOL_T1 }, (err, protocol) => {
        if (done) return;
        if (err) {
          setTimeout(() => !done && tryConnect(reader), 200);
          return;
        }
        done = true;
        clearTimeout(timer);
        resolve({
          transmit: (command) =>
            new Promise((res, rej) =>
              reader.transmit(Buffer.from(command), RESPONSE_BUFFER, protocol, (e, data) =>
                e ? rej(e instanceof Error ? e : new Error(String(e))) : res(new Uint8Array(data)),
              ),
            ),
          close: () =>
            new Promise((res) =>
              reader.disconnect(reader.SCARD_RESET_CARD, () => {
                stop();
                res();
              }),
            ),
        });
      });
    };
    void watchReader(readerName, (reader, present) => {
      if (!done && present && !reader.connected) tryConnect(reader);
    }).then((s) => (stop = s));
  });
}
