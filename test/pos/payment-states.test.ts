import { describe, expect, it } from 'vitest';
import { isFinal, PAYMENT_STATES, type PaymentState, takesEvent } from '../../host/pos/payment-states.js';

const ALL: readonly PaymentState[] = PAYMENT_STATES;

/** The events a payment in `from` still takes. */
const takes = (from: PaymentState) => ALL.filter((to) => takesEvent(from, to));

describe('payment states', () => {
  it('a payment in a final state takes no more events, but an approved one is settled later', () => {
    expect(ALL.filter(isFinal)).toEqual(['approved', 'declined', 'cancelled', 'settled']);
    expect(takes('approved')).toEqual(['settled']);
    for (const end of ['declined', 'cancelled', 'settled'] as const) expect(takes(end)).toEqual([]);
    for (const open of ALL.filter((s) => !isFinal(s))) expect(takes(open)).toEqual(ALL);
  });
});
