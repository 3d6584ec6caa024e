/**
 * The text receipt of a payment: merchant, amount, coins by denomination, time and the short
 * payment id. There is no card identifier to print, because the card reveals none.
 */
import { formatAmount } from '../../core/index.js';
import type { Journal } from './journal.js';

export interface ReceiptInput {
  paymentId: string;
  merchantName: string;
  merchantId: string;
  terminalId: string;
  amount: number;
  currency: string;
  reference: string | null;
  approvedAt: number;
  mode: string;
  coins: readonly { value: number }[];
}

export function renderReceipt(r: ReceiptInput): string {
  const width = 32;
  const line = (left: string, right = '') =>
    right === '' ? left : left + ' '.repeat(Math.max(1, width - left.length - right.length)) + right;
  const byValue = new Map<number, number>();
  for (const c of r.coins) byValue.set(c.value, (byValue.get(c.value) ?? 0) + 1);
  const coinLines = [...byValue.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([value, n]) => line(`  ${n} x ${formatAmount(value, r.currency)}`, formatAmount(value * n, r.currency)));
  return [
    r.merchantName,
    line(`Merchant ${r.merchantId}`),
    line(`Terminal ${r.terminalId}`),
    '-'.repeat(width),
    line('E-CASH PAYMENT', r.mode.toUpperCase()),
    ...(r.reference === null ? [] : [line(`Ref ${r.reference}`)]),
    line('Amount', formatAmount(r.amount, r.currency)),
    'Coins',
    ...coinLines,
    '-'.repeat(width),
    line('APPROVED', new Date(r.approvedAt).toISOString().replace('T', ' ').slice(0, 19) + 'Z'),
    line(`Payment ${r.paymentId}`),
    '',
  ].join('\n');
}

/** A payment's receipt from what the journal holds, or null if it was never approved. */
export function journalReceipt(
  journal: Pick<Journal, 'payment' | 'events' | 'transcripts'>,
  paymentId: string,
  merchantName: string,
): string | null {
  const approvedAt = journal.events(paymentId).find((e) => e.state === 'approved')?.at;
  if (approvedAt === undefined) return null;
  const p = journal.payment(paymentId);
  const { merchantId, terminalId, amount, currency, reference, mode } = p;
  return renderReceipt({
    paymentId,
    merchantName,
    merchantId,
    terminalId,
    amount,
    currency,
    reference,
    approvedAt,
    mode,
    coins: journal.transcripts(paymentId),
  });
}
