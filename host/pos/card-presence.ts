/**
 * Card presence on the terminal's one reader: waiting for a card to be tapped, for it to leave,
 * and, from the start of every tap, watching for the tapped card leaving, so that a new sale
 * reads only a card presented for it. A card left in the reader after its own payment is not
 * charged again; a customer who takes the card the moment the outcome shows and taps it again for
 * the next sale (before the terminal has let go of it) does pay that sale.
 */
import { EcashError } from '../../core/index.js';
import type { ReaderSource } from '../../reader-bridge/index.js';
import { Decline } from './decline.js';

export class CardPresence {
  /** Resolves once the card of the last tap has left the reader. */
  private cardGone: Promise<void> = Promise.resolve();
  private stopCardWatch: () => void = () => undefined;

  constructor(
    private readonly readers: ReaderSource,
    private readonly readerName: string,
  ) {}

  /** Starts watching for the card being tapped to leave (at every tap, whatever its outcome). */
  watchTappedCard(): void {
    this.stopCardWatch();
    const name = this.readerName;
    this.cardGone = new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        stop();
        resolve();
      };
      const stop = this.readers.watch((ev) => {
        if (ev.reader.name === name && (ev.type === 'card-removed' || ev.type === 'reader-removed')) finish();
      });
      this.stopCardWatch = finish;
      this.readers
        .listReaders()
        .then((readers) => {
          if (readers.find((r) => r.name === name)?.cardPresent !== true) finish();
        })
        // Without a list the event decides.
        .catch(() => undefined);
    });
  }

  /** Waits until the last tapped card has left: `card-still-present` after `timeoutMs`. */
  async tappedCardGone(signal: AbortSignal, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.cardGone,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Decline(
                  'card-still-present',
                  "the previous sale's card stayed in the reader: ask the customer to take it, then start the payment again",
                ),
              ),
            timeoutMs,
          );
          onAbort = () => reject(new EcashError('cancelled', 'the payment was cancelled'));
          signal.addEventListener('abort', onAbort);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Waits for a card in the reader: `card-wait-expired` after `timeoutMs`. */
  cardPresent(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return this.waitForReader(signal, timeoutMs, true);
  }

  /** Waits for the reader to be empty: `card-still-present` after `timeoutMs`. */
  cardAbsent(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return this.waitForReader(signal, timeoutMs, false);
  }

  /** After an interruption the card may still sit in the field: wait briefly for a fresh tap. */
  async briefRemoval(signal: AbortSignal): Promise<void> {
    try {
      await this.cardAbsent(signal, 250);
    } catch {
      // Still present after a short while (e.g. a reset, not a removal): go on with it.
    }
  }

  /** Stops watching the tapped card. */
  stop(): void {
    this.stopCardWatch();
  }

  private waitForReader(signal: AbortSignal, timeoutMs: number, present: boolean): Promise<void> {
    const name = this.readerName;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        stop();
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => finish(new EcashError('cancelled', 'the payment was cancelled'));
      const stop = this.readers.watch((ev) => {
        if (ev.reader.name !== name) return;
        if (present && ev.type === 'card-inserted') finish();
        if (!present && ev.type === 'card-removed') finish();
      });
      const timer = setTimeout(
        () =>
          finish(
            new Decline(
              present ? 'card-wait-expired' : 'card-still-present',
              present ? `no card was presented within ${Math.round(timeoutMs / 1000)} s` : 'the card stayed in the field',
            ),
          ),
        timeoutMs,
      );
      signal.addEventListener('abort', onAbort);
      this.readers
        .listReaders()
        .then((readers) => {
          const r = readers.find((x) => x.name === name);
          if (present && r?.cardPresent) finish();
          if (!present && r !== undefined && !r.cardPresent) finish();
        })
        .catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }
}
