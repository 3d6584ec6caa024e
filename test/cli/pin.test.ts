/**
 * The card holder's PIN through the `ecash` command as shipped (`node bin/ecash.js`): `pos pay`
 * takes it from --pin-file or $ECASH_PIN only when the card asks for it, after every check that
 * needs no card, and declines at once when it cannot have one; three wrong PINs block the card
 * and the third says so and how to unblock; `card pin unblock`, `card pin change` and `card limit`
 * work on a card in a reader (a virtual reader behind `startBridgeServer`, as in a shop). No PIN
 * or PUK shows in anything the commands print. The tests run in order on one card: each goes on
 * from the PIN state and coins the one before left.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EcashCard } from '../../firmware-sim/index.js';
import { EcashCardClient } from '../../reader-bridge/index.js';
import { endStartedProcesses, exitOf, runCli, startProcess, waitForOutput } from '../helpers/cli.js';
import { digitSecretsIn } from '../helpers/secrets.js';
import { BridgedShop, loadViaReader, PIN, PUK } from '../helpers/world.js';

const BRIDGE_TOKEN = 'bridge-token-for-the-pin-tests';
const NEW_PIN = '975310';
const LATER_PIN = '8642';
const SECRETS = [PIN, PUK, NEW_PIN, LATER_PIN];

const shop = new BridgedShop(BRIDGE_TOKEN);
const { world, readers } = shop;
let card: EcashCard;

beforeAll(async () => {
  await shop.start();
  card = await world.card({ noPinLimit: 500 });
  await loadViaReader(world, readers, 'Load', card, 'erin', 10_000, 5_000);
});

// A test that failed half-way leaves neither a command running nor a card in a reader.
afterEach(async () => {
  await endStartedProcesses();
  await shop.emptyReaders();
});

afterAll(() => shop.close());

const onReader = ['--reader', 'Counter', '--bridge', ''];
const readerArgs = () => onReader.map((a) => (a === '' ? shop.bridge.url : a));
const baseEnv = () => ({
  ECASH_BANK_TOKEN: shop.merchantToken,
  ECASH_BRIDGE_TOKEN: BRIDGE_TOKEN,
  ECASH_PIN: '',
  ECASH_NEW_PIN: '',
  ECASH_PUK: '',
});

/** The arguments of `ecash pos pay` at the kiosk's counter reader, with the test's journal. */
function payArgs(amount: string): string[] {
  return [
    'pos',
    'pay',
    amount,
    '--bank',
    world.url,
    '--merchant',
    'kiosk',
    ...readerArgs(),
    '--journal',
    join(world.dir, 'pin-pos.db'),
    '--card-wait',
    '20',
  ];
}

/** `ecash --json pos pay` with the card on the counter; its exit code, document and stderr. */
async function pay(amount: string, env: Record<string, string> = {}, extra: string[] = []) {
  readers.insertCard('Counter', card);
  try {
    const args = ['--json', ...payArgs(amount), ...extra];
    const r = await runCli(args, { ...baseEnv(), ...env });
    expect(digitSecretsIn(r.stdout + r.stderr, SECRETS), 'a PIN or PUK in the output').toEqual([]);
    return {
      ...r,
      doc: JSON.parse(r.stdout) as {
        state?: string;
        events?: { state: string; detail: { code?: string; message?: string } | null }[];
        error?: { code: string; message: string };
      },
    };
  } finally {
    readers.removeCard('Counter');
  }
}

/** `ecash --json card …` on the card on the counter. */
async function onCard(args: string[], env: Record<string, string>) {
  readers.insertCard('Counter', card);
  try {
    const r = await runCli(['--json', 'card', ...args, ...readerArgs()], { ...baseEnv(), ...env });
    expect(digitSecretsIn(r.stdout + r.stderr, SECRETS), 'a PIN or PUK in the output').toEqual([]);
    return { ...r, doc: JSON.parse(r.stdout) as { error?: { code: string; message: string } } & Record<string, unknown> };
  } finally {
    readers.removeCard('Counter');
  }
}

/** The value of the smallest coin on the card worth more than `value` (read with the holder's PIN). */
async function coinAbove(value: number, pin: string): Promise<number> {
  readers.insertCard('Load', card);
  const ch = await readers.connect('Load');
  try {
    const client = EcashCardClient.on(ch);
    await client.select();
    await client.verifyPin(pin);
    const values = (await client.balance()).filter((b) => b.count > 0 && b.value > value).map((b) => b.value);
    expect(values.length, 'the card holds a coin above the old limit').toBeGreaterThan(0);
    return Math.min(...values);
  } finally {
    await ch.disconnect('reset');
    readers.removeCard('Load');
  }
}

const declineOf = (doc: Awaited<ReturnType<typeof pay>>['doc']) => doc.events?.at(-1)?.detail;

describe('ecash pos pay and the PIN', () => {
  it('checks the amount and the currency before anything asks for a PIN', async () => {
    const tooLarge = await pay('10000000000');
    expect(tooLarge.code).toBe(1);
    expect(tooLarge.doc.error?.code).toBe('bad-amount');
    const badCurrency = await pay('600', {}, ['--currency', 'euro']);
    expect(badCurrency.code).toBe(1);
    expect(badCurrency.doc.error?.code).toBe('bad-currency');
  });

  it('pays under the no-PIN limit without one, and above it declines at once (pin-missing) when no PIN can be had', async () => {
    const small = await pay('300');
    expect(small.doc.state, small.stderr).toBe('approved');
    // stdin is not a terminal here and neither a file nor $ECASH_PIN gives one: declined, not after the PIN wait.
    const missing = await pay('600');
    expect(missing.code).toBe(2);
    expect(missing.doc.state).toBe('declined');
    expect(declineOf(missing.doc)).toMatchObject({ code: 'pin-missing' });
    expect(declineOf(missing.doc)?.message).toContain('--pin-file');
  });

  it('takes the PIN from --pin-file or $ECASH_PIN when the card asks for it', async () => {
    const pinFile = join(world.dir, 'pin');
    writeFileSync(pinFile, PIN + '\n', { mode: 0o600 });
    const fromFile = await pay('600', {}, ['--pin-file', pinFile]);
    expect(fromFile.doc.state, fromFile.stderr).toBe('approved');
    expect(fromFile.doc.events?.map((e) => e.state)).toContain('pin-required');
    const fromEnv = await pay('700', { ECASH_PIN: PIN });
    expect(fromEnv.doc.state, fromEnv.stderr).toBe('approved');
    const unreadable = await pay('600', {}, ['--pin-file', join(world.dir, 'no-such-pin-file')]);
    expect(unreadable.doc.error?.code).toBe('pin-unreadable');
  });

  it('says at the third wrong PIN that the PIN is now blocked and how to unblock it; unblock, change and limit work on the card', async () => {
    const wrong = { ECASH_PIN: '0000' };
    const first = await pay('600', wrong);
    expect(declineOf(first.doc)).toMatchObject({ code: 'pin-wrong' });
    expect(declineOf(first.doc)?.message).toContain('2 tries left');
    const second = await pay('600', wrong);
    expect(declineOf(second.doc)?.message).toContain('1 try left');
    const third = await pay('600', wrong);
    expect(declineOf(third.doc)).toMatchObject({ code: 'pin-blocked' });
    expect(declineOf(third.doc)?.message).toContain('now blocked');
    expect(declineOf(third.doc)?.message).toContain('ecash card pin unblock');
    // Blocked: even the right PIN is refused now.
    const blocked = await pay('600', { ECASH_PIN: PIN });
    expect(declineOf(blocked.doc)).toMatchObject({ code: 'pin-blocked' });

    const badPuk = await onCard(['pin', 'unblock'], { ECASH_PUK: '00000000', ECASH_NEW_PIN: NEW_PIN });
    expect(badPuk.code).toBe(1);
    expect(badPuk.doc.error).toMatchObject({ code: 'pin-wrong' });
    expect(badPuk.doc.error?.message).toContain('wrong PUK: 9 tries left');
    const shortPin = await onCard(['pin', 'unblock'], { ECASH_PUK: PUK, ECASH_NEW_PIN: '12' });
    expect(shortPin.doc.error?.code).toBe('bad-new-pin');
    const unblocked = await onCard(['pin', 'unblock'], { ECASH_PUK: PUK, ECASH_NEW_PIN: NEW_PIN });
    expect(unblocked.code, unblocked.stderr).toBe(0);

    const changed = await onCard(['pin', 'change'], { ECASH_PIN: NEW_PIN, ECASH_NEW_PIN: LATER_PIN });
    expect(changed.code, changed.stderr).toBe(0);
    const oldRefused = await pay('600', { ECASH_PIN: NEW_PIN });
    expect(declineOf(oldRefused.doc)).toMatchObject({ code: 'pin-wrong' });

    // A coin above the old limit of 5.00, paid without the PIN under a new limit of its value: the
    // right PIN (entered by `card limit`) starts the no-PIN count again.
    const coin = await coinAbove(500, LATER_PIN);
    const limited = await onCard(['limit', String(coin)], { ECASH_PIN: LATER_PIN });
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.doc).toMatchObject({ noPinLimit: coin });
    const underNewLimit = await pay(String(coin));
    expect(underNewLimit.doc.state, underNewLimit.stderr).toBe('approved');
    const human = await runCli(['card', 'limit', 'abc', ...readerArgs()], baseEnv());
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('[bad-amount]');
  });

  it('asks for the PIN on a terminal, without echo, only when the card wants it', async () => {
    const coin = await coinAbove(0, LATER_PIN);
    const always = await onCard(['limit', '0'], { ECASH_PIN: LATER_PIN });
    expect(always.code, always.stderr).toBe(0);
    readers.insertCard('Counter', card);
    // `script` gives the command a terminal of its own; what is typed goes in once it asks.
    const command = ['node', 'bin/ecash.js', ...payArgs(String(coin))].map((a) => `'${a}'`).join(' ');
    const typing = startProcess('script', ['-qfec', command, '/dev/null'], baseEnv(), 'pipe');
    await waitForOutput(typing, (out) => (out.includes('PIN: ') ? true : undefined), 'the PIN prompt');
    typing.child.stdin!.write(LATER_PIN + '\r');
    expect(await exitOf(typing), typing.stdout()).toBe(0);
    expect(typing.stdout()).toContain('approved');
    expect(typing.stdout()).not.toContain(LATER_PIN);
  });
});
