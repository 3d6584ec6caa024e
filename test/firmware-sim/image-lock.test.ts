/**
 * One process per card image: a second opener — another `ecash card serve`, `ecash card info`, or
 * a second open in the same process — gets `card-in-use` naming the holder; the lock goes with
 * its holder, on close, on exit, and at once when the holder is killed (no clean-up needed).
 * (The attack it prevents, two taps spending the same coins, is test/attacks/card-image-in-use.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCardImage, inspectCardImage, openCard } from '../../firmware-sim/index.js';
import { type CliProcess, startCli, waitForOutput } from '../helpers/cli.js';
import { PIN, PUK } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ecash-lock-'));
/** Where `card serve` connects: a listener that accepts and stays quiet (no pcscd needed). */
let vpcd: Server;
let vpcdAddress: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  vpcd = createServer(() => undefined);
  await new Promise<void>((resolve) => vpcd.listen(0, '127.0.0.1', resolve));
  vpcdAddress = `127.0.0.1:${(vpcd.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  await new Promise<void>((resolve) => vpcd.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function newImage(): Promise<string> {
  const file = join(dir, `card-${++n}.card`);
  await createCardImage(file, { pin: PIN, puk: PUK, capacity: 16 * 1024 });
  return file;
}

function cli(args: string[]): CliProcess {
  const p = startCli(args);
  running.push(p);
  return p;
}

/** `ecash card serve` holding `file`, once it has said so. */
async function serving(file: string): Promise<CliProcess> {
  const p = cli(['--json', 'card', 'serve', file, '--vpcd', vpcdAddress, '--no-quickack']);
  await waitForOutput(p, (out) => (out.includes('"vpcd"') ? out : undefined));
  return p;
}

async function refusal(p: CliProcess): Promise<{ exit: number | null; error: { code: string; message: string } }> {
  const exit = await p.exited;
  return { exit, error: (JSON.parse(p.stdout()) as { error: { code: string; message: string } }).error };
}

describe('card image lock', () => {
  it('refuses a second open in the same process until the first is closed', async () => {
    const file = await newImage();
    const card = openCard(file);
    expect(() => openCard(file)).toThrow(expect.objectContaining({ code: 'card-in-use' }));
    expect(() => inspectCardImage(file)).toThrow(expect.objectContaining({ code: 'card-in-use' }));
    card.close();
    openCard(file).close();
    expect(inspectCardImage(file).personalised).toBe(true);
  });

  it('refuses a second process with card-in-use naming the holder, and lets go at once when the holder is killed', async () => {
    const file = await newImage();
    const holder = await serving(file);

    const second = await refusal(cli(['--json', 'card', 'serve', file, '--vpcd', vpcdAddress, '--no-quickack']));
    expect(second.exit).toBe(1);
    expect(second.error.code).toBe('card-in-use');
    expect(second.error.message).toContain(`process ${holder.child.pid}`);
    expect(second.error.message).toMatch(/card serve/);
    expect(second.error.message).toMatch(/Stop that process/);

    // `ecash card info` does not read an image another process may be writing: it says who has it.
    const info = await refusal(cli(['--json', 'card', 'info', file]));
    expect(info.error.code).toBe('card-in-use');
    expect(() => openCard(file)).toThrow(expect.objectContaining({ code: 'card-in-use' }));

    holder.child.kill('SIGKILL');
    expect(await holder.exited).toBeNull();
    // The kernel released the lock with the process: no stale lock, no waiting.
    const card = openCard(file);
    card.close();
    const again = cli(['--json', 'card', 'info', file]);
    expect(await again.exited).toBe(0);
    expect(JSON.parse(again.stdout())).toMatchObject({ personalised: true });
  });

  it('releases the image when the holder exits normally', async () => {
    const file = await newImage();
    const holder = await serving(file);
    holder.child.kill('SIGTERM');
    expect(await holder.exited).toBe(0);
    expect(inspectCardImage(file).personalised).toBe(true);
  });
});
