// The bank's back office, read-only: the audit's verdict, keys with outstanding e-cash, accounts,
// merchants, deposit batches with each coin's result and double spends with their proofs, from the bank's own API under an operator
// credential that lives in this page's memory only.
import { money } from './money.js';

const $ = (id) => document.getElementById(id);
let token = null;

async function api(path) {
  const r = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(body?.error ? `${body.error.message} [${body.error.code}]` : `the bank answered ${r.status}`);
  return body;
}

/** Every page of a list route (`next` is the following page's `after`). */
async function all(path, field) {
  const out = [];
  let after;
  do {
    const page = await api(`${path}?limit=100${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`);
    out.push(...page[field]);
    after = page.next;
  } while (after !== undefined);
  return out;
}

const day = (ms) => new Date(ms).toISOString().slice(0, 10);
const time = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const balances = (list) => (list.length === 0 ? '—' : list.map((b) => money(b.balance, b.currency)).join(', '));

function rows(tableId, items, cells) {
  const body = $(tableId).querySelector('tbody');
  const numeric = [...$(tableId).querySelectorAll('th')].map((th) => th.classList.contains('num'));
  body.replaceChildren(
    ...items.map((item) => {
      const tr = document.createElement('tr');
      cells(item).forEach((cell, i) => {
        const td = document.createElement('td');
        if (cell instanceof Node) td.append(cell);
        else td.textContent = String(cell);
        if (numeric[i]) td.className = 'num';
        tr.append(td);
      });
      return tr;
    }),
  );
}

/** A batch's per-coin results, in deposit order, as a list a screen reader counts. */
function coinResults(batch) {
  const said = (r) => {
    if (r.outcome === 'credited') return 'credited';
    if (r.outcome === 'replay') return 'replay (credited before)';
    if (r.outcome === 'double-spend') return `double spend (proof ${r.doubleSpendId})`;
    return `rejected: ${r.code}`;
  };
  const ol = document.createElement('ol');
  ol.className = 'coin-results';
  ol.append(...batch.results.map((r) => Object.assign(document.createElement('li'), { textContent: said(r), title: r.message ?? '' })));
  return ol;
}

function proofLink(ds) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(ds.proof, null, 2)], { type: 'application/json' }));
  a.download = `double-spend-${ds.doubleSpendId}.json`;
  a.textContent = `proof ${ds.doubleSpendId}`;
  return a;
}

async function show() {
  const [audit, params, accounts, merchants, doubleSpends, batches] = await Promise.all([
    api('/v1/audit'),
    api('/v1/parameters'),
    all('/v1/accounts', 'accounts'),
    all('/v1/merchants', 'merchants'),
    all('/v1/double-spends', 'doubleSpends'),
    // One page: batches grow with every terminal's every upload, so the console shows the newest.
    api('/v1/deposits?limit=100'),
  ]);
  $('verdict').textContent = audit.ok
    ? 'The books balance: every entry, and issued = outstanding + deposited for every key'
    : `Audit FAILED: ${audit.problems.length} problem(s)`;
  $('verdict').className = `status ${audit.ok ? 'ok' : 'bad'}`;
  $('problems').replaceChildren(...audit.problems.map((p) => Object.assign(document.createElement('li'), { textContent: p })));
  const keyInfo = new Map(params.keys.map((k) => [k.keyId, k]));
  rows('keys', audit.keys, (k) => {
    const info = keyInfo.get(k.keyId);
    return [
      money(k.value, k.currency),
      info ? info.scope || 'any' : '',
      info ? day(info.withdrawUntil) : 'expired',
      info ? day(info.depositUntil) : 'expired',
      k.issued,
      k.deposited,
      k.outstanding,
      money(k.outstandingBalance, k.currency),
    ];
  });
  rows('accounts', accounts, (a) => [a.holder, a.accountId, balances(a.balances)]);
  rows('merchants', merchants, (m) => [m.merchantId, m.name, balances(m.balances)]);
  rows('deposits', batches.deposits, (b) => [
    time(b.createdAt),
    b.depositor,
    b.batchId,
    b.results.length,
    balances(b.credited),
    coinResults(b),
  ]);
  $('batches-hint').textContent =
    `${batches.next === undefined ? 'Newest first' : `The newest ${batches.deposits.length}`}, each coin's result in the order it was deposited.`;
  rows('double-spends', doubleSpends, (d) => [
    time(d.createdAt),
    d.holder ? `${d.holder} (${d.accountId})` : 'no account',
    d.depositor,
    proofLink(d),
  ]);
  $('as-of').textContent = `as of ${new Date().toLocaleTimeString()}`;
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  token = $('token').value;
  $('token').value = '';
  try {
    await show();
    $('login-error').textContent = '';
    $('login').hidden = true;
    $('console').hidden = false;
  } catch (err) {
    token = null;
    $('login-error').textContent = err.message;
  }
});

$('refresh').addEventListener('click', () =>
  show().catch((err) => {
    $('as-of').textContent = err.message;
  }),
);
