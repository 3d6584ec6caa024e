// The simulator panel: the readers and cards of `ecash sim serve`, live over its event stream
// (GET /v1/events, authenticated by the session cookie POST /v1/session sets), the test-helper
// actions as buttons, and the APDU trace of each reader's current tap (PINs and PUKs arrive
// already redacted). No framework, no network beyond the simulator.
import { money } from './money.js';
import { openSession, probeSession } from './session.js';

const $ = (id) => document.getElementById(id);
/** An element: `props` set as properties, except ARIA attributes and `role`, set as attributes. */
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
};

/** The simulator as last streamed: reader names, cards by id, each reader's state and trace. */
const sim = { readers: [], cards: new Map(), state: new Map(), traces: new Map() };
let events = null;

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await r.json().catch(() => null);
  if (!r.ok) throw new Error(answer?.error ? `${answer.error.message} [${answer.error.code}]` : `the simulator answered ${r.status}`);
  return answer;
}

/** Runs a helper action; a refusal shows in the alert line rather than being lost. */
async function act(what) {
  try {
    $('problem').textContent = '';
    await what();
  } catch (e) {
    $('problem').textContent = e.message;
  }
}

const readerPath = (name) => `/v1/readers/${encodeURIComponent(name)}`;
const idOf = (name) => name.replace(/[^A-Za-z0-9]/g, '-');

function describeCard(c) {
  const loaded = c.loaded ? `, loaded ${money(c.loaded.amount, c.loaded.currency)}` : ', empty';
  return `${c.id} (${c.kind}${c.profile ? `, ${c.profile}` : ''}${loaded})`;
}

function describePull(pull) {
  if (!pull) return '';
  return 'during' in pull ? 'Leaves during its next PAY' : `Leaves after ${pull.afterApdus} more command(s)`;
}

/** One reader's block: what it holds, the actions on it, and its trace. */
function readerBlock(name) {
  const id = idOf(name);
  const choose = el('select', { id: `${id}-card`, name: 'card' });
  const after = el('input', { id: `${id}-after`, type: 'number', min: '0', max: '1000', step: '1', value: '0', required: true });
  const insert = el('form', { className: 'actions' });
  insert.append(
    el('label', { htmlFor: choose.id }, 'Card ', choose),
    el('button', { type: 'submit', id: `${id}-insert`, 'aria-label': `Insert into ${name}` }, 'Insert'),
  );
  insert.addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => api('POST', `${readerPath(name)}/insert`, { card: choose.value }));
  });
  const pullNow = el('button', { type: 'button', 'aria-label': `Remove now from ${name}` }, 'Remove now');
  pullNow.addEventListener('click', () => act(() => api('POST', `${readerPath(name)}/remove`)));
  const pullPay = el('button', { type: 'button', 'aria-label': `Remove during PAY from ${name}` }, 'Remove during PAY');
  pullPay.addEventListener('click', () => act(() => api('POST', `${readerPath(name)}/remove`, { during: 'pay' })));
  const pullAfter = el('form', { className: 'actions' });
  pullAfter.append(
    el('label', { htmlFor: after.id }, 'Commands before removal ', after),
    el('button', { type: 'submit', 'aria-label': `Remove after n commands from ${name}` }, 'Remove after n commands'),
  );
  pullAfter.addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => api('POST', `${readerPath(name)}/remove`, { afterApdus: Number(after.value) }));
  });
  const table = el('table', { id: `${id}-trace`, className: 'trace' });
  table.append(
    el('caption', { id: `${id}-caption` }),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['#', 'Command', 'Header', 'Lc', 'Le', 'Data', 'SW', 'Status', 'Chip ms', 'Emulator ms'].map((h) =>
          el('th', { scope: 'col', className: /#|Lc|Le|ms/.test(h) ? 'num' : '' }, h),
        ),
      ),
    ),
    el('tbody'),
  );
  return el(
    'article',
    { id: `reader-${id}`, className: 'reader', 'aria-labelledby': `${id}-name` },
    el('h3', { id: `${id}-name` }, name),
    el('p', { id: `${id}-holds`, className: 'status', role: 'status' }),
    el('p', { id: `${id}-pull`, className: 'hint' }),
    insert,
    el('p', { className: 'actions' }, pullNow, ' ', pullPay),
    pullAfter,
    table,
  );
}

const short = (hex) => (hex.length > 32 ? `${hex.slice(0, 32)}… (${hex.length / 2} bytes)` : hex);

function exchangeRow(x) {
  const cells = [
    x.seq,
    x.name,
    x.command.header,
    x.command.lc ?? '',
    x.command.le ?? '',
    x.command.redacted ? '[redacted]' : short(x.command.data ?? ''),
    x.response ? x.response.sw : '—',
    x.response ? x.response.status : 'no answer: the card left',
    x.chipMs === null ? '' : x.chipMs.toFixed(1),
    x.emulatorMs.toFixed(2),
  ];
  const numeric = [true, false, false, true, true, false, false, false, true, true];
  return el('tr', {}, ...cells.map((c, i) => el('td', { className: numeric[i] ? 'num' : '' }, String(c))));
}

function renderTrace(reader) {
  const id = idOf(reader);
  const t = sim.traces.get(reader);
  const since = (ms) => new Date(ms).toLocaleTimeString('en-GB');
  $(`${id}-caption`).textContent = t
    ? `APDU trace of ${t.card}'s tap, from ${since(t.insertedAt)}${t.removedAt ? ` to ${since(t.removedAt)}` : ''}: ${t.exchanges.length} command(s)${t.dropped ? `, ${t.dropped} older left out` : ''}`
    : 'APDU trace: no card has been in this reader yet';
  $(`${id}-trace`)
    .querySelector('tbody')
    .replaceChildren(...(t ? t.exchanges.map(exchangeRow) : []));
}

function renderState() {
  const free = [...sim.cards.values()].filter((c) => c.reader === null);
  for (const name of sim.readers) {
    const id = idOf(name);
    const r = sim.state.get(name);
    const card = r?.card ? sim.cards.get(r.card) : undefined;
    $(`${id}-holds`).textContent = r?.card ? `Holds ${card ? describeCard(card) : r.card}` : 'Empty';
    $(`${id}-pull`).textContent = describePull(r?.pull);
    const choose = $(`${id}-card`);
    const chosen = choose.value;
    choose.replaceChildren(...free.map((c) => el('option', { value: c.id }, describeCard(c))));
    if (free.some((c) => c.id === chosen)) choose.value = chosen;
    $(`${id}-insert`).disabled = free.length === 0;
  }
  $('cards')
    .querySelector('tbody')
    .replaceChildren(
      ...[...sim.cards.values()].map((c) =>
        el(
          'tr',
          {},
          ...[
            c.id,
            c.kind + (c.pinBlocked ? ' (PIN blocked)' : ''),
            c.suite,
            c.profile ?? '—',
            c.noPinLimit,
            c.loaded ? money(c.loaded.amount, c.loaded.currency) : '—',
            c.reader ?? '—',
          ].map((v, i) => el('td', { className: i === 4 ? 'num' : '' }, String(v))),
        ),
      ),
    );
}

function setOptions(select, values) {
  select.append(...values.map((v) => el('option', { value: v }, v)));
}

function follow() {
  $('login').hidden = true;
  $('panel').hidden = false;
  events = new EventSource('/v1/events');
  events.addEventListener('simulator', (e) => {
    const info = JSON.parse(e.data);
    sim.readers = info.readers;
    $('readers').replaceChildren(...info.readers.map(readerBlock));
    for (const [select, values] of [
      [$('kind'), info.kinds],
      [$('suite'), info.suites],
      [$('profile'), info.profiles],
    ]) {
      for (const o of [...select.options]) if (o.value !== '') o.remove();
      setOptions(select, values);
    }
    for (const r of info.readers) renderTrace(r);
  });
  events.addEventListener('state', (e) => {
    const s = JSON.parse(e.data);
    sim.cards = new Map(s.cards.map((c) => [c.id, c]));
    sim.state = new Map(s.readers.map((r) => [r.name, r]));
    renderState();
  });
  events.addEventListener('trace', (e) => {
    const t = JSON.parse(e.data);
    sim.traces.set(t.reader, t);
    renderTrace(t.reader);
  });
  events.addEventListener('exchange', (e) => {
    const x = JSON.parse(e.data);
    const t = sim.traces.get(x.reader);
    if (!t || t.tap !== x.tap) return;
    t.exchanges.push(x.exchange);
    renderTrace(x.reader);
  });
  events.addEventListener('error', async () => {
    // A restarted simulator forgets sessions: ask for the token again rather than retrying for ever.
    if ((await probeSession('/v1/readers')) === 'ended') disconnect();
  });
}

function disconnect() {
  events?.close();
  events = null;
  $('panel').hidden = true;
  $('login').hidden = false;
  $('token').focus();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const problem = await openSession($('token').value, 'the simulator');
  $('token').value = '';
  $('login-error').textContent = problem ?? '';
  if (problem === null) follow();
});

$('logout').addEventListener('click', async () => {
  await fetch('/v1/session', { method: 'DELETE', credentials: 'same-origin' }).catch(() => null);
  disconnect();
});

$('make-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const spec = { kind: $('kind').value, noPinLimit: Number($('no-pin-limit').value || 0) };
  if ($('suite').value) spec.suite = $('suite').value;
  if ($('profile').value) spec.profile = $('profile').value;
  if ($('pin').value) spec.pin = $('pin').value;
  if ($('load-amount').value) {
    spec.load = {
      bank: $('load-bank').value,
      operatorToken: $('load-operator').value,
      amount: Number($('load-amount').value),
      currency: $('load-currency').value,
    };
  }
  // The PIN goes to the simulator once; the page keeps no copy of it.
  $('pin').value = '';
  $('make-status').textContent = spec.load ? 'Making the card and loading it through the bank…' : 'Making the card…';
  act(async () => {
    try {
      const card = await api('POST', '/v1/cards', spec);
      $('make-status').textContent = `Made ${describeCard(card)}`;
    } catch (err) {
      $('make-status').textContent = 'The card was not made';
      throw err;
    }
  });
});

// A page reloaded with a live session follows at once; otherwise it asks for the token.
probeSession('/v1/readers').then((session) => {
  if (session === 'live') follow();
});
