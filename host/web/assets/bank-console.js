// The bank's back office, read-only: the audit's verdict, keys with outstanding e-cash, accounts,
// merchants and double spends with their proofs, from the bank's own API under an operator
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

function proofLink(ds) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(ds.proof, null, 2)], { type: 'application/json' }));
  a.download = `double-spend-${ds.doubleSpendId}.json`;
  a.textContent = `proof ${ds.doubleSpendId}`;
  return a;
}

async function show() {
  const [audit, params, accounts, merchants, doubleSpends] = await Promise.all([
    api('/v1/audit'),
    api('/v1/parameters'),
    all('/v1/accounts', 'accounts'),
    all('/v1/merchants', 'merchants'),
    all('/v1/double-spends', 'doubleSpends'),
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
  rows('double-spends', doubleSpends, (d) => [
    new Date(d.createdAt).toISOString().replace('T', ' ').slice(0, 19),
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
