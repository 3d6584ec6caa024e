/**
 * An integrator's test suite against the shipped commands (`node bin/ecash.js`, built by `npm
 * test`'s pretest), with no pcscd: `ecash sim serve` and `ecash pos serve --bridge <sim> --reader
 * "Sim 0"` run as processes, the test makes and moves cards over the simulator's HTTP API and
 * takes payments over the terminal's cash-register API, as a cash register's own tests would.
 * Each special card forces its outcome once; a card pulled mid-tap is finished when it comes back;
 * `ecash pos pay` uses a simulated reader unchanged; `ecash sim run` plays docs/sim's example
 * scenario and refuses a malformed one with the place of the problem.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CardView, ReaderView, TapTrace } from '../../host/sim/index.js';
import type { PaymentView } from '../../host/pos/index.js';
import {
  bearerRequest,
  type CliProcess,
  endStartedProcesses,
  exitOf,
  posApiUrl,
  startCli,
  untilFinal,
  untilPaymentIs,
  waitForOutput,
  whileRunning,
} from '../helpers/cli.js';
import { reasonOf, World } from '../helpers/world.js';

const SIM_TOKEN = 'sim-token-for-the-cli-0123';
const API_KEY = 'register-key-for-the-sim-0123';

let world: World;
let merchantToken: string;
let operatorToken: string;
let sim: CliProcess;
let simApi: string;
let bridge: string;
let pos: CliProcess;
let posApi: string;
let panel: string;

const simJson = (stdout: string): { api: string; bridge: string; panel: string } | undefined => {
  try {
    return JSON.parse(stdout) as { api: string; bridge: string; panel: string };
  } catch {
    return undefined; // not the whole document yet
  }
};

const simCall = <T>(method: string, path: string, body?: unknown) =>
  whileRunning(sim, bearerRequest<T>(simApi, SIM_TOKEN, method, path, body));
const posCall = <T>(method: string, path: string, body?: unknown) =>
  whileRunning(pos, bearerRequest<T>(posApi, API_KEY, method, path, body));

/** A card made through the simulator's API; `load` is put on it through the bank. */
function card(spec: Record<string, unknown>, load?: number): Promise<CardView> {
  return simCall<CardView>('POST', '/cards', {
    noPinLimit: 10_000,
    ...spec,
    ...(load === undefined ? {} : { load: { bank: world.url, operatorToken, amount: load } }),
  });
}

const insert = (cardId: string, reader = 'Sim 0') =>
  simCall<ReaderView>('POST', `/readers/${encodeURIComponent(reader)}/insert`, { card: cardId });
const pull = (reader = 'Sim 0') => simCall<ReaderView>('POST', `/readers/${encodeURIComponent(reader)}/remove`);
const startPayment = (amount: number) => posCall<PaymentView>('POST', '/payments', { amount, currency: 'EUR' });
const view = (id: string) => () => posCall<PaymentView>('GET', `/payments/${id}`);

/** Polls the payment until it has passed through `state` (bounded; fails with the server's stderr). */
function untilState(id: string, state: string, ms = 30_000): Promise<PaymentView> {
  return untilPaymentIs(
    pos,
    view(id),
    (v) => {
      if (v.events.some((e) => e.state === state)) return true;
      if (['approved', 'declined', 'cancelled'].includes(v.state))
        throw new Error(`payment ${id} ended ${v.state} (${reasonOf(v) ?? ''}) without being ${state}`);
      return false;
    },
    ms,
  );
}

/** One sale: the payment is started, the card tapped, the outcome read, the card taken back. */
async function sale(amount: number, cardId: string): Promise<PaymentView> {
  const { id } = await startPayment(amount);
  await insert(cardId);
  const v = await untilFinal(pos, view(id));
  await pull();
  return v;
}

beforeAll(async () => {
  world = new World();
  await world.startBank();
  merchantToken = (await world.operator.addMerchant({ merchantId: 'till', scopes: [] })).credential;
  operatorToken = (await world.service.addOperator('integrator')).credential;
  sim = startCli(['--json', 'sim', 'serve', '--port', '0', '--bridge-port', '0', '--readers', '2'], { ECASH_BRIDGE_TOKEN: SIM_TOKEN });
  ({ api: simApi, bridge, panel } = await waitForOutput(sim, simJson, "the simulator's addresses"));
  const args = ['pos', 'serve', '--bank', world.url, '--merchant', 'till', '--terminal', 'till-1', '--reader', 'Sim 0', '--bridge', bridge];
  // A short PIN wait, for the PIN that never comes; the tests that enter one do so at once.
  args.push('--journal', join(world.dir, 'till.db'), '--port', '0', '--settle-every', '0', '--card-wait', '20', '--pin-wait', '8');
  pos = startCli(args, { ECASH_BANK_TOKEN: merchantToken, ECASH_BRIDGE_TOKEN: SIM_TOKEN, ECASH_POS_API_KEY: API_KEY });
  posApi = await waitForOutput(pos, posApiUrl, 'the API address');
});

// A test that failed half-way leaves no card in a simulated reader for the next one.
afterEach(async () => {
  if (sim?.child.exitCode !== null) return;
  for (const r of (await simCall<{ readers: ReaderView[] }>('GET', '/readers')).readers) if (r.card !== null) await pull(r.name);
});

afterAll(async () => {
  await endStartedProcesses();
  await world?.close();
});

describe('a cash register tested against simulated cards', () => {
  it('takes a payment from a card made and loaded through the simulator', async () => {
    const alice = await card({}, 2_000);
    const v = await sale(650, alice.id);
    expect(v.state).toBe('approved');
    expect(v.receipt).toContain('6.50');
  });

  it('a card pulled mid-tap: the payment is interrupted, and finished when the card is put back', async () => {
    const bob = await card({ kind: 'pulled-mid-tap' }, 1_000);
    const { id } = await startPayment(300);
    await insert(bob.id);
    const interrupted = await untilState(id, 'interrupted');
    expect(interrupted.state).not.toBe('approved');
    await insert(bob.id);
    const v = await untilFinal(pos, view(id));
    expect(v.state).toBe('approved');
    expect(v.coins.reduce((s, c) => s + c.value, 0)).toBe(300);
    await pull();
  });

  it('an empty card is declined for insufficient funds', async () => {
    const v = await sale(100, (await card({ kind: 'empty' })).id);
    expect([v.state, reasonOf(v)]).toEqual(['declined', 'insufficient-funds']);
  });

  it('a card whose coins make no exact change is declined so', async () => {
    const v = await sale(200, (await card({ kind: 'no-exact-change' }, 500)).id);
    expect([v.state, reasonOf(v)]).toEqual(['declined', 'no-exact-change']);
  });

  it('a card with a blocked PIN asks for the PIN and is declined when it is entered', async () => {
    const dave = await card({ kind: 'blocked-pin', noPinLimit: 0 }, 500);
    const { id } = await startPayment(100);
    await insert(dave.id);
    await untilState(id, 'pin-required');
    await posCall('POST', `/payments/${id}/pin`, { pin: '1234' });
    const v = await untilFinal(pos, view(id));
    expect([v.state, reasonOf(v)]).toEqual(['declined', 'pin-blocked']);
    await pull();
  });

  it("a PIN never entered: declined pin-timeout after the terminal's --pin-wait, the card spending nothing", async () => {
    const fay = await card({ noPinLimit: 0 }, 500);
    const { id } = await startPayment(100);
    await insert(fay.id);
    await untilState(id, 'pin-required');
    const v = await untilFinal(pos, view(id));
    expect([v.state, reasonOf(v)]).toEqual(['declined', 'pin-timeout']);
    expect(v.coins).toEqual([]);
    await pull();
  });

  it('a slow chip (jcop3) is waited for and paid', async () => {
    const v = await sale(70, (await card({ profile: 'jcop3' }, 100)).id);
    expect(v.state).toBe('approved');
  });

  it('a card whose one coin is of a key the bank never published is declined, even for its exact value', async () => {
    // The terminal offers only its bank's keys; the card has no coin of any of them.
    const v = await sale(200, (await card({ kind: 'unknown-key' }, 200)).id);
    expect([v.state, reasonOf(v)]).toEqual(['declined', 'insufficient-funds']);
    expect(v.coins).toEqual([]);
  });

  it('a card of another suite is declined as such', async () => {
    const v = await sale(100, (await card({ suite: 'p256-uprove' })).id);
    expect([v.state, reasonOf(v)]).toEqual(['declined', 'wrong-suite']);
  });

  it('`ecash pos pay --bridge <sim> --reader "Sim 1"` takes a payment from a simulated reader', async () => {
    const erin = await card({}, 500);
    await insert(erin.id, 'Sim 1');
    const args = [
      '--json',
      'pos',
      'pay',
      '120',
      '--bank',
      world.url,
      '--merchant',
      'till',
      '--terminal',
      'till-2',
      '--reader',
      'Sim 1',
      '--bridge',
      bridge,
    ];
    const pay = startCli([...args, '--journal', join(world.dir, 'till-2.db'), '--card-wait', '20'], {
      ECASH_BANK_TOKEN: merchantToken,
      ECASH_BRIDGE_TOKEN: SIM_TOKEN,
    });
    expect(await exitOf(pay), pay.stderr()).toBe(0);
    expect((JSON.parse(pay.stdout()) as PaymentView).state).toBe('approved');
    // The tap, as the simulator traced it through the bridge.
    const { trace } = await simCall<{ trace: TapTrace }>('GET', `/readers/${encodeURIComponent('Sim 1')}/trace`);
    expect(trace.card).toBe(erin.id);
    expect(trace.exchanges.filter((e) => e.name === 'PAY').map((e) => e.response?.sw)).toEqual(['9000']);
    await pull('Sim 1');
  });

  it('`ecash sim serve` serves the simulator panel beside its API', async () => {
    expect(panel).toBe(simApi.replace(/\/v1$/, '/panel/'));
    const page = await fetch(panel);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<title>Card simulator</title>');
  });

  it('`ecash sim run` plays the example scenario of docs/sim against the terminal', async () => {
    const run = startCli(['--json', 'sim', 'run', 'docs/sim/example-scenario.json', '--sim', simApi, '--pos', posApi], {
      ECASH_BRIDGE_TOKEN: SIM_TOKEN,
      ECASH_POS_API_KEY: API_KEY,
      ECASH_BANK_URL: world.url,
      ECASH_BANK_TOKEN: operatorToken,
    });
    const code = await exitOf(run, 120_000);
    const report = JSON.parse(run.stdout()) as { passed: boolean; steps: { ok: boolean; op: string; detail: string }[] };
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect([code, report.passed]).toEqual([0, true]);
    expect(report.steps.length).toBe(22);
  }, 150_000);

  it('`ecash sim run` refuses a malformed scenario before it does anything, naming the place', async () => {
    const file = join(world.dir, 'bad-scenario.json');
    writeFileSync(
      file,
      JSON.stringify({
        steps: [
          { op: 'create', card: 'x' },
          { op: 'pay', amount: -5 },
        ],
      }),
    );
    const run = startCli(['--json', 'sim', 'run', file, '--sim', simApi, '--pos', posApi], {
      ECASH_BRIDGE_TOKEN: SIM_TOKEN,
      ECASH_POS_API_KEY: API_KEY,
    });
    expect(await exitOf(run)).toBe(1);
    const { error } = JSON.parse(run.stdout()) as { error: { code: string; message: string } };
    expect(error.code).toBe('bad-scenario');
    expect(error.message).toContain('steps[1].amount');
  });

  // Last: the terminal's journal keeps the evidence, so a settlement after this one reports a double spend.
  it('a double-spending card: its second payment with the same coin is refused at the counter', async () => {
    const cheat = await card({ kind: 'double-spending' }, 20);
    expect((await sale(20, cheat.id)).state).toBe('approved');
    const again = await sale(20, cheat.id);
    expect([again.state, reasonOf(again)]).toEqual(['declined', 'coin-already-seen']);
  });

  it('never prints a token or credential', () => {
    const printed = sim.stdout() + sim.stderr() + pos.stdout() + pos.stderr();
    for (const secret of [SIM_TOKEN, API_KEY, merchantToken, operatorToken])
      expect(printed.includes(secret), 'a secret in the output').toBe(false);
  });
});
