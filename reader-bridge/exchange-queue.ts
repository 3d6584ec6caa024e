/**
 * One exchange at a time per channel, each under its own time budget. A card processes one
 * command at a time, so a command that timed out still occupies the card: the next command waits
 * for the late exchange to settle (its response is dropped), and its own budget, counted from its
 * call, covers that wait. This is what lets a terminal repeat a PAY whose answer it did not get.
 */
import { EcashError } from '../core/index.js';
import { bridgeError, BRIDGE_ERROR, channelClosed } from './errors.js';
import type { TransmitOptions } from './transport.js';

export class ExchangeQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly readerName: string) {}

  run<T>(exchange: () => Promise<T>, timeoutMs: number): Promise<T> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return Promise.reject(new EcashError('bad-timeout', `a command budget must be a positive number of ms, got ${timeoutMs}`));
    }
    const started = this.tail.then(exchange);
    this.tail = started.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            bridgeError(
              BRIDGE_ERROR.CARD_TIMEOUT,
              `the card in "${this.readerName}" did not answer within ${timeoutMs} ms: it may have acted on the command; ` +
                'repeat it (the card answers a repeated payment the same way) or raise the budget for this command class',
              { details: { reader: this.readerName, timeoutMs } },
            ),
          ),
        timeoutMs,
      );
    });
    return Promise.race([started, expired]).finally(() => clearTimeout(timer));
  }

  /** Resolves once every exchange started so far has settled. */
  async drain(): Promise<void> {
    await this.tail;
  }
}

/**
 * What every transport's channel shares: one exchange at a time under its budget, refusal once
 * disconnected, and a sticky failure (`broken`) that only `reconnect()` clears.
 */
export abstract class QueuedChannel {
  protected readonly queue: ExchangeQueue;
  protected closed = false;
  /** Set when only `reconnect()` can help (the card left, the medium failed). */
  protected broken: EcashError | undefined;

  constructor(protected readonly readerName: string) {
    this.queue = new ExchangeQueue(readerName);
  }

  transmit(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array> {
    return this.queue.run(() => {
      if (this.closed) throw channelClosed(this.readerName);
      if (this.broken) throw this.broken;
      return this.exchange(command, options);
    }, this.budget(options.timeoutMs));
  }

  /** The local budget for a card's budget (the remote transport adds the network's share). */
  protected budget(timeoutMs: number): number {
    return timeoutMs;
  }

  protected abstract exchange(command: Uint8Array, options: TransmitOptions): Promise<Uint8Array>;

  /** Before reconnecting: refuses a closed channel and lets the exchange in flight settle. */
  protected async readyToReconnect(): Promise<void> {
    if (this.closed) throw channelClosed(this.readerName);
    await this.queue.drain();
  }

  /** Marks the channel closed and lets the exchange in flight settle; false if it already was. */
  protected async closing(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    await this.queue.drain();
    return true;
  }
}
