/**
 * Amounts of money as every part of the system shows and takes them: integers of minor units
 * (1234 is 12.34 EUR), printed with the currency's ISO 4217 minor digits (JPY has none, KWD
 * three). One range for every way in: the CLI's arguments and the HTTP APIs' bodies.
 */
import { EcashError } from './errors.js';

/** The largest amount any command or API takes: 10 000 000.00 in a 2-digit currency. */
export const MAX_AMOUNT = 1_000_000_000;

/**
 * ISO 4217 minor digits of the currencies that do not have 2 (the list's "minor unit" column).
 * A table, not Intl: CLDR's display digits differ from ISO 4217 for some (IQD, for one).
 */
const MINOR_DIGITS: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** How many digits of `currency`'s amounts are minor units (2 unless ISO 4217 says otherwise). */
export function minorDigits(currency: string): number {
  return MINOR_DIGITS[currency] ?? 2;
}

/** Minor units as the currency writes them: `formatAmount(5000, 'EUR')` is `50.00 EUR`, `formatAmount(500, 'JPY')` is `500 JPY`. */
export function formatAmount(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const unit = 10 ** digits;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')} ${currency}`;
}

/** The JSON Schema of an amount in the HTTP APIs: the same range `parseAmount` takes. */
export const AMOUNT_SCHEMA = { type: 'integer', minimum: 1, maximum: MAX_AMOUNT } as const;

/**
 * An amount typed on a command line: a whole number of minor units from 1 to MAX_AMOUNT, as the
 * HTTP APIs take it. `bad-amount` otherwise, with the value given.
 */
export function parseAmount(text: string, what = 'amount'): number {
  if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > MAX_AMOUNT) {
    throw new EcashError(
      'bad-amount',
      `the ${what} is a whole number of minor units from 1 to ${MAX_AMOUNT} (1234 is 12.34 EUR), not "${text}"`,
    );
  }
  return Number(text);
}

/** An ISO 4217 currency code: three capital letters. */
export function parseCurrency(text: string): string {
  if (!/^[A-Z]{3}$/.test(text)) throw new EcashError('bad-currency', `the currency is an ISO 4217 code such as EUR, not "${text}"`);
  return text;
}
