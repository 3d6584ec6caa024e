import { describe, expect, it } from 'vitest';
import { FINAL_STATES, isFinal, type PaymentState, takesEvent } from '../../host/pos/payment-states.js';

const ALL: PaymentState[] = ['created', 'waiting-for-card', 'reading', 'pin-required', 'request-sent', 'interrupted', 'responses-received', 'approved', 'declined', 'cancelled', 'settled'];

describe('payment states', () => {
  it('a payment in a final state takes no more events, but an approved one is settled later', () => {
    expect(ALL.filter(isFinal)).toEqual([...FINAL_STATES]);
    for (const from of ALL) {
      for (const to of ALL) {
        const expected = !isFinal(from) || (from === 'approved' && to === 'settled');
        expect({ from, to, takes: takesEvent(from, to) }).toEqual({ from, to, takes: expected });
      }
    }
    expect(takesEvent('approved', 'declined')).toBe(false);
    expect(takesEvent('settled', 'settled')).toBe(false);
    expect(takesEvent('interrupted', 'declined')).toBe(true);
  });
});
