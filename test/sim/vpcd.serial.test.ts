/**
 * The simulator's cards in the machine's pcscd: `ecash sim serve --vpcd 127.0.0.1:35963` attaches
 * "Sim 0" to vpcd's slot (PC/SC reader `Virtual PCD 00 00`). A card made and loaded through the
 * simulator's API and inserted into "Sim 0" pays at `ecash pos pay --reader "Virtual PCD 00 00"`
 * through pcscd, with no bridge; taking it out through the API is seen by `ecash readers --watch`.
 * A card pulled mid-tap leaves pcscd's reader during its PAY and, put back, finishes the payment.
 * The bridge serves only the readers left unattached. The slot is empty again after the test,
 * passed or failed (the simulator is stopped).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CardView, ReaderView } from '../../host/sim/index.js';
import type { PaymentView } from '../../host/pos/index.js';
import { bearerRequest, endStartedProcesses, exitOf, runCli, startCli, stdoutLines, waitForOutput, whileRunning } from '../helpers/cli.js';
import { pcscdAvailable, requireService } from '../helpers/env.js';
import { World } from '../helpers/world.js';

const SIM_TOKEN = 'sim-token-for-vpcd-0123456';
const READER = 'Virtual PCD 00 00';

describe.runIf(requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)'))('simulator cards in pcscd through vpcd', () => {
  const world = new World();

  afterAll(async () => {
    await endStartedProcesses();
    await world.close();
  });

  it('a card inserted through the sim API pays at a PC/SC reader; its removal is seen by `ecash readers`', async () => {
    await world.startBank();
    const merchantToken = (await world.operator.addMerchant({ merchantId: 'till', scopes: [] })).credential;
    const operatorToken = (await world.service.addOperator('integrator')).credential;
    const started = startCli(
      ['--json', 'sim', 'serve', '--port', '0', '--bridge-port', '0', '--readers', '2', '--vpcd', '127.0.0.1:35963'],
      {
        ECASH_BRIDGE_TOKEN: SIM_TOKEN,
      },
    );
    const served = await waitForOutput(
      started,
      (stdout) => {
        try {
          return JSON.parse(stdout) as { api: string; bridge: string; readers: string[]; vpcd: Record<string, string> };
        } catch {
          return undefined; // not the whole document yet
        }
      },
      "the simulator's addresses",
    );
    expect(served.vpcd).toEqual({ 'Sim 0': '127.0.0.1:35963' });
    const call = <T>(method: string, path: string, body?: unknown) =>
      whileRunning(started, bearerRequest<T>(served.api, SIM_TOKEN, method, path, body));

    const alice = await call<CardView>('POST', '/cards', { noPinLimit: 10_000, load: { bank: world.url, operatorToken, amount: 800 } });
    await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/insert`, { card: alice.id });
    const present = await runCli(['--json', 'readers', '--wait-for-card', READER]);
    expect(present.code, present.stderr).toBe(0);

    const args = ['--json', 'pos', 'pay', '120', '--bank', world.url, '--merchant', 'till', '--terminal', 'till-pcsc', '--reader', READER];
    const pay = startCli([...args, '--journal', join(world.dir, 'till-pcsc.db'), '--card-wait', '20'], { ECASH_BANK_TOKEN: merchantToken });
    expect(await exitOf(pay), pay.stderr()).toBe(0);
    const payment = JSON.parse(pay.stdout()) as PaymentView;
    expect(payment.state).toBe('approved');
    expect(payment.coins.reduce((s, c) => s + c.value, 0)).toBe(120);

    // Listening for the removal before it happens.
    const watch = startCli(['--json', 'readers', '--watch']);
    const next = stdoutLines(watch);
    const seen = async (check: (e: { event: string; name: string; cardPresent: boolean }) => boolean, what: string) => {
      for (;;) if (check(JSON.parse(await next(what)) as { event: string; name: string; cardPresent: boolean })) return;
    };
    await seen((e) => e.event === 'present' && e.name === READER && e.cardPresent, `${READER} holding the card`);
    await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/remove`);
    await seen((e) => e.event === 'card-removed' && e.name === READER, `the card leaving ${READER}`);
    const after = await runCli(['--json', 'readers']);
    const readers = JSON.parse(after.stdout) as { name: string; cardPresent: boolean }[];
    expect(readers.find((r) => r.name === READER)?.cardPresent).toBe(false);

    // Pulled mid-tap through pcscd: the card leaves during its PAY, the payment waits, and the card
    // put back (a new vpcd connection) finishes it from its log.
    const bob = await call<CardView>('POST', '/cards', {
      kind: 'pulled-mid-tap',
      noPinLimit: 10_000,
      load: { bank: world.url, operatorToken, amount: 500 },
    });
    await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/insert`, { card: bob.id });
    await seen((e) => e.event === 'card-inserted' && e.name === READER, `the pulled-mid-tap card in ${READER}`);
    const torn = startCli(
      [...args.map((a) => (a === '120' ? '300' : a)), '--journal', join(world.dir, 'till-pcsc.db'), '--card-wait', '30'],
      {
        ECASH_BANK_TOKEN: merchantToken,
      },
    );
    await seen((e) => e.event === 'card-removed' && e.name === READER, `the card pulled during its PAY`);
    expect((await call<{ readers: ReaderView[] }>('GET', '/readers')).readers[0]).toEqual({ name: 'Sim 0', card: null, pull: null });
    await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/insert`, { card: bob.id });
    expect(await exitOf(torn, 45_000), torn.stderr()).toBe(0);
    const finished = JSON.parse(torn.stdout()) as PaymentView;
    expect([finished.state, finished.coins.reduce((s, c) => s + c.value, 0)]).toEqual(['approved', 300]);
    expect(finished.events.map((e) => e.state)).toContain('interrupted');
    await call<ReaderView>('POST', `/readers/${encodeURIComponent('Sim 0')}/remove`);

    // The bridge serves only the readers left unattached.
    const bridged = await runCli(['--json', 'readers', '--bridge', served.bridge], { ECASH_BRIDGE_TOKEN: SIM_TOKEN });
    expect(bridged.code, bridged.stderr).toBe(0);
    expect((JSON.parse(bridged.stdout) as { name: string }[]).map((r) => r.name)).toEqual(['Sim 1']);
  });
});
