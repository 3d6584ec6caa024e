/**
 * A payment's states and the one rule about its end: a payment in a final state takes no more
 * events, except that an approved payment is later marked settled. The journal enforces the rule
 * on every event it appends (and finds unfinished payments by it), the terminal and its API ask it
 * whether a payment has ended.
 *
 *   created → waiting-for-card → reading → request-sent → [pin-required → request-sent →]
 *     responses-received → approved → settled
 *                                    | declined
 *   interrupted: the card left after the request reached it; back to waiting-for-card for the
 *     same card, which answers the same request the same way.
 *   cancelled: from the register before the request (or with abandon after it), or by a restart
 *     before any card was asked.
 */
export const PAYMENT_STATES = [
  'created',
  'waiting-for-card',
  'reading',
  'pin-required',
  'request-sent',
  'interrupted',
  'responses-received',
  'approved',
  'declined',
  'cancelled',
  'settled',
] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];

/** States after which a payment never changes (except approved → settled). */
export const FINAL_STATES: readonly PaymentState[] = ['approved', 'declined', 'cancelled', 'settled'];

/** Whether a payment in `state` has reached its outcome. */
export function isFinal(state: PaymentState): boolean {
  return FINAL_STATES.includes(state);
}

/** Whether a payment in `current` may move to `next`: only an unfinished one, or approved → settled. */
export function takesEvent(current: PaymentState, next: PaymentState): boolean {
  return !isFinal(current) || (current === 'approved' && next === 'settled');
}

/** The final states as an SQL list, for queries over the journal's latest events. */
export const FINAL_STATES_SQL = FINAL_STATES.map((s) => `'${s}'`).join(', ');
