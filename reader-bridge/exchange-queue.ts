/**
 * One exchange at a time per channel, each under its own time budget. A card processes one
 * command at a time, so a command that timed out still occupies the card: the next command waits
 * for the late exchange to settle (its response is dropped), and its own budget, counted from its
 * call, covers that wait. This is what lets a terminal repeat a PAY whose answer it did not get.
 */
import { bridgeError, BRIDGE_ERROR } from './errors.js';

export class ExchangeQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly readerName: string) {}

  run<T>(exchange: () => Promise<T>, timeoutMs: number): Promise<T> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return Promise.reject(bridgeError(BRIDGE_ERROR.CARD_TIMEOUT, `a command budget must be a positive number of ms, got ${timeoutMs}`));
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
