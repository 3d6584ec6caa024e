// The customer's screen of a POS terminal: follows the terminal's payments over its API's event
// stream (GET /v1/events, authenticated by the session cookie POST /v1/session sets) and takes
// the holder's PIN when the card asks for it. No framework, no network beyond the terminal.
import { money } from './money.js';
import { openSession, probeSession } from './session.js';

const $ = (id) => document.getElementById(id);

const INTERRUPTED = { status: 'Card removed too soon', kind: 'bad', hint: 'Tap the same card again' };

const ASK_CASHIER = 'The payment was refused. Please ask the cashier.';

/**
 * Why a payment was declined, in the customer's words. The terminal's own message is written for
 * the cashier and the operator (commands to run, flags to set); a code this page does not know
 * still shows it, so no reason is ever hidden.
 */
const DECLINE_WORDS = {
  'insufficient-funds': 'Not enough money on the card. Load the card, or pay less.',
  'no-exact-change':
    'The card cannot make this exact amount (e-cash gives no change). Pay another amount, or rebalance the card at a load terminal.',
  'pin-blocked': 'The PIN is blocked. Unblock it with your PUK, then pay again.',
  'pin-wrong': 'Wrong PIN.',
  'pin-timeout': 'No PIN was entered in time.',
  'wrong-suite': 'This card is not accepted here.',
  'card-wait-expired': 'No card was presented in time.',
  'card-still-present': 'Take the card off the reader, then start again.',
  'card-not-returned': 'The card did not come back. Please ask the cashier: it may have paid already.',
  'coin-already-seen': ASK_CASHIER,
  'card-answer-mismatch': ASK_CASHIER,
  'coin-not-accepted': ASK_CASHIER,
  'invalid-coin': ASK_CASHIER,
  'double-spend': ASK_CASHIER,
  'deposit-rejected': ASK_CASHIER,
};

const declineWords = (detail) => DECLINE_WORDS[detail?.code] ?? detail?.message ?? '';

/** What the customer reads in each state of a payment (docs/pos-api.md, "A payment's life"). */
function screenFor(p) {
  const last = p.events[p.events.length - 1];
  const why = last?.detail?.message ? last.detail.message : '';
  switch (p.state) {
    case 'created':
      return { status: 'Tap or insert your card' };
    case 'waiting-for-card':
      // After an interruption the terminal waits at once for the same card: keep saying so.
      return p.events.some((e) => e.state === 'interrupted') ? INTERRUPTED : { status: 'Tap or insert your card' };
    case 'reading':
      return { status: 'Reading card…', hint: 'Keep the card on the reader' };
    case 'pin-required':
      if (last?.detail?.code === 'pin-wrong') {
        const n = last.detail.triesLeft;
        return { status: `Wrong PIN, ${n} ${n === 1 ? 'try' : 'tries'} left`, kind: 'bad', hint: 'Enter your PIN again', pin: true };
      }
      return { status: 'Enter your PIN', pin: true };
    case 'request-sent':
    case 'responses-received':
      return { status: 'Paying…', hint: 'Keep the card on the reader' };
    case 'interrupted':
      return INTERRUPTED;
    case 'approved':
    case 'settled':
      return { status: 'Approved', kind: 'ok', receipt: p.receipt };
    case 'declined':
      return { status: 'Declined', kind: 'bad', hint: declineWords(last?.detail) };
    case 'cancelled':
      return { status: 'Cancelled', kind: 'bad', hint: why };
    default:
      return { status: p.state };
  }
}

let current = null;

function render(p) {
  current = p;
  const s = screenFor(p);
  $('amount').textContent = money(p.amount, p.currency);
  $('status').textContent = s.status;
  $('status').className = `status ${s.kind || ''}`;
  $('hint').textContent = s.hint || '';
  const pinForm = $('pin-form');
  const asking = Boolean(s.pin);
  // Each request for the PIN (again, after a wrong one) starts with an empty field that has the focus.
  const request = asking ? `${p.id}:${p.events[p.events.length - 1]?.seq}` : null;
  if (asking && pinForm.dataset.request !== request) {
    pinForm.dataset.request = request;
    pinForm.hidden = false;
    $('pin').value = '';
    $('pin').focus();
  } else if (!asking) {
    pinForm.hidden = true;
    delete pinForm.dataset.request;
  }
  $('receipt').hidden = !s.receipt;
  $('receipt').textContent = s.receipt || '';
}

function follow() {
  $('login').hidden = true;
  $('screen').hidden = false;
  const events = new EventSource('/v1/events');
  events.addEventListener('terminal', (e) => {
    const t = JSON.parse(e.data);
    $('merchant').textContent = `${t.merchantName} · ${t.terminalId}`;
  });
  events.addEventListener('payment', (e) => render(JSON.parse(e.data)));
  events.addEventListener('error', async () => {
    // A restarted terminal forgets sessions: ask for the key again rather than retrying for ever.
    if ((await probeSession('/v1/settlement')) === 'ended') {
      events.close();
      $('screen').hidden = true;
      $('login').hidden = false;
    }
  });
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const problem = await openSession($('api-key').value, 'the terminal');
  $('api-key').value = '';
  $('login-error').textContent = problem ?? '';
  if (problem === null) follow();
});

$('pin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!current) return;
  const pin = $('pin').value;
  $('pin').value = '';
  const r = await fetch(`/v1/payments/${current.id}/pin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ pin }),
  });
  if (r.status !== 202) {
    const body = await r.json().catch(() => null);
    $('hint').textContent = body?.error ? body.error.message : `the terminal answered ${r.status}`;
  }
});

// A page reloaded with a live session follows at once; otherwise it asks for the key.
probeSession('/v1/settlement').then((session) => {
  if (session === 'live') follow();
});
