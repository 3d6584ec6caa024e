/**
 * A reader that cannot be used is named at once, with a stable code and a non-zero exit, by the
 * `ecash` command as shipped: a remote bridge that refuses the token (`bridge-unauthorized`), one
 * that is down (`transport-failure`, a closed port) and a reader name that does not exist
 * (`no-reader`, listing the readers there are). Before, `pos pay` waited its whole card wait and
 * declined `card-wait-expired`, `pos serve` started without a word and `readers` printed "no readers"
 * and exited 0. Each command here runs with the default card wait of 120 s: it must end long before.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { endStartedProcesses, runCli } from '../helpers/cli.js';
import { BridgedShop } from '../helpers/world.js';

const BRIDGE_TOKEN = 'bridge-token-for-the-reader-errors';
const shop = new BridgedShop(BRIDGE_TOKEN);
let closedPortUrl: string;

beforeAll(async () => {
  await shop.start();
  // A port that was free a moment ago and that nothing listens on now: a bridge that is down.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  closedPortUrl = `ws://127.0.0.1:${port}/v1`;
});
afterEach(async () => {
  await endStartedProcesses();
  await shop.emptyReaders();
});
afterAll(() => shop.close());

const env = (token = BRIDGE_TOKEN) => ({
  ECASH_BRIDGE_TOKEN: token,
  ECASH_BANK_TOKEN: shop.merchantToken,
  ECASH_POS_API_KEY: 'register-key-for-reader-errors',
  ECASH_PIN: '',
});

/** The three ways a reader cannot be had: the bridge URL, the token and the reader name to use. */
const cases = () => [
  {
    what: 'a wrong bridge token',
    bridge: shop.bridge.url,
    token: 'not-the-bridge-token-at-all',
    reader: 'Counter',
    code: 'bridge-unauthorized',
    says: 'refused the token',
  },
  {
    what: 'a bridge that is down',
    bridge: closedPortUrl,
    token: BRIDGE_TOKEN,
    reader: 'Counter',
    code: 'transport-failure',
    says: 'cannot reach the reader bridge',
  },
  {
    what: 'a reader that does not exist',
    bridge: shop.bridge.url,
    token: BRIDGE_TOKEN,
    reader: 'No Such Reader',
    code: 'no-reader',
    says: 'the readers are "Counter", "Load"',
  },
];

/** The bank, merchant and reader options of an `ecash pos` command at the kiosk through case `c`. */
const kioskAt = (c: { reader: string; bridge: string }) => [
  '--bank',
  shop.world.url,
  '--merchant',
  'kiosk',
  '--reader',
  c.reader,
  '--bridge',
  c.bridge,
];

describe('a reader that cannot be used', () => {
  it('ecash readers --bridge fails with the reason (the right token lists the readers)', async () => {
    const listed = await runCli(['readers', '--bridge', shop.bridge.url], env());
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('Counter');
    for (const c of cases().slice(0, 2)) {
      const r = await runCli(['--json', 'readers', '--bridge', c.bridge], env(c.token));
      expect(r.code, c.what).toBe(1);
      expect(JSON.parse(r.stdout), c.what).toMatchObject({ error: { code: c.code } });
      expect(r.stderr, c.what).toContain(c.says);
      expect(r.stdout + r.stderr).not.toContain(BRIDGE_TOKEN);
    }
  });

  it('ecash pos pay ends at once with the reason, not card-wait-expired after the card wait', async () => {
    for (const c of cases()) {
      const args = ['--json', 'pos', 'pay', '500', ...kioskAt(c)];
      const r = await runCli([...args, '--journal', join(shop.world.dir, 'errors-pos.db')], env(c.token));
      expect(r.code, `${c.what}: ${r.stderr}`).toBe(1);
      expect(JSON.parse(r.stdout), c.what).toMatchObject({ error: { code: c.code } });
      expect(r.stderr, c.what).toContain(c.says);
    }
  });

  it('ecash pos serve refuses to start, with the reason', async () => {
    for (const c of cases()) {
      const args = ['pos', 'serve', ...kioskAt(c), '--port', '0'];
      const r = await runCli([...args, '--journal', join(shop.world.dir, 'errors-serve.db'), '--settle-every', '0'], env(c.token));
      expect(r.code, c.what).toBe(1);
      expect(r.stderr, c.what).toContain(`[${c.code}]`);
      expect(r.stderr, c.what).not.toContain('API at');
    }
  });

  it('commands on one card (apdu, card pin change) fail with the same reasons', async () => {
    for (const c of cases()) {
      const apdu = await runCli(['--json', 'apdu', '00a4040007f045434153480100', '--reader', c.reader, '--bridge', c.bridge], env(c.token));
      expect(apdu.code, c.what).toBe(1);
      expect(JSON.parse(apdu.stdout), c.what).toMatchObject({ error: { code: c.code } });
      const pin = await runCli(['--json', 'card', 'pin', 'change', '--reader', c.reader, '--bridge', c.bridge], {
        ...env(c.token),
        ECASH_PIN: '2468',
        ECASH_NEW_PIN: '1357',
      });
      expect(JSON.parse(pin.stdout), c.what).toMatchObject({ error: { code: c.code } });
    }
  });
});
