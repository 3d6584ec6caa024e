/**
 * The screens' amount formatter (host/web/assets/money.js, plain JavaScript for the browser) writes
 * amounts exactly as core's formatAmount does everywhere else: one form in the CLI, the receipts
 * and the screens, with ISO 4217's minor digits.
 */
import { describe, expect, it } from 'vitest';
import { formatAmount } from '../../core/index.js';

const { money } = (await import(new URL('../../host/web/assets/money.js', import.meta.url).href)) as {
  money: (minor: number, currency: string) => string;
};

describe("the screens' amounts", () => {
  it('are written as core writes them, in every kind of currency', () => {
    for (const currency of ['EUR', 'USD', 'GBP', 'JPY', 'KRW', 'ISK', 'KWD', 'BHD', 'TND', 'CHF']) {
      for (const minor of [0, 1, 7, 50, 99, 100, 1234, 500_000, 1_000_000_000, -250]) {
        expect(money(minor, currency), `${minor} ${currency}`).toBe(formatAmount(minor, currency));
      }
    }
  });
});
