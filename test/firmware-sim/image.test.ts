/**
 * The card image file: coins survive closing and reopening; a foreign, truncated, damaged or
 * edited file is refused on load (and by `ecash card info` with a clear error); the file is never
 * overwritten; capacities outside the range, or too small for a suite, are refused up front.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { APPLET_DATA_OFFSET, createCardImage, inspectCardImage, openCard } from '../../firmware-sim/index.js';
import { balance, PIN, PUK, select, TestBank, verifyPin } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ecash-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const path = () => join(dir, `card-${++n}.card`);

async function cardWithCoins(): Promise<string> {
  const file = path();
  await createCardImage(file, { pin: PIN, puk: PUK, capacity: 16 * 1024 });
  const card = openCard(file);
  card.powerOn();
  await select(card);
  await verifyPin(card);
  const bank = new TestBank('ristretto255-sha512');
  await bank.open(card);
  await bank.withdraw(card, 100);
  await bank.withdraw(card, 5);
  card.close();
  return file;
}

describe('card image file', () => {
  it('keeps coins across close and reopen, and inspection shows them without secrets', async () => {
    const file = await cardWithCoins();
    const card = openCard(file);
    card.powerOn();
    await select(card);
    await verifyPin(card);
    expect((await balance(card)).map((e) => [e.value, e.count])).toEqual([
      [100, 1],
      [5, 1],
    ]);
    card.close();
    const info = inspectCardImage(file);
    expect(info).toMatchObject({
      personalised: true,
      suite: 'ristretto255-sha512',
      capacity: 16 * 1024,
      pinTriesLeft: 3,
      totals: { EUR: 105 },
      pendingWithdrawal: null,
    });
    expect(JSON.stringify(info)).not.toMatch(/u1|"s"|x1|x2/);
  });

  it('refuses a foreign, truncated, damaged or edited file', async () => {
    const foreign = path();
    writeFileSync(foreign, Buffer.alloc(16 * 1024, 7));
    expect(() => openCard(foreign)).toThrow(expect.objectContaining({ code: 'card-image-foreign' }));

    const truncated = await cardWithCoins();
    truncateSync(truncated, 16 * 1024 - 100);
    expect(() => openCard(truncated)).toThrow(expect.objectContaining({ code: 'card-image-corrupt' }));

    const header = await cardWithCoins();
    const h = readFileSync(header);
    h[12] = h[12]! ^ 0xff; // capacity field: the header CRC no longer matches
    writeFileSync(header, h);
    expect(() => openCard(header)).toThrow(expect.objectContaining({ code: 'card-image-corrupt' }));

    const edited = await cardWithCoins();
    const image = readFileSync(edited);
    // The last non-zero byte ends the last coin written (its CRC); 40 bytes before it lies r'.
    let end = image.length - 1;
    while (end > APPLET_DATA_OFFSET && image[end] === 0) end--;
    expect(end).toBeGreaterThan(APPLET_DATA_OFFSET + 40);
    image[end - 40] = image[end - 40]! ^ 1;
    writeFileSync(edited, image);
    expect(() => openCard(edited)).toThrow(expect.objectContaining({ code: 'card-image-corrupt' }));
    expect(() => inspectCardImage(edited)).toThrow(expect.objectContaining({ code: 'card-image-corrupt' }));

    const cli = promisify(execFile);
    const failed = await cli('node', ['--import', 'tsx', 'host/cli/main.ts', '--json', 'card', 'info', edited]).then(
      () => ({ code: 0, stdout: '{}' }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout).error.code).toBe('card-image-corrupt');
  });

  it('never overwrites a file and refuses capacities it cannot use', async () => {
    const file = await cardWithCoins();
    await expect(createCardImage(file, { pin: PIN, puk: PUK })).rejects.toMatchObject({ code: 'card-image-exists' });
    expect(inspectCardImage(file).totals).toEqual({ EUR: 105 });
    await expect(createCardImage(path(), { pin: PIN, puk: PUK, capacity: 1000 })).rejects.toMatchObject({ code: 'bad-capacity' });
    await expect(createCardImage(path(), { pin: PIN, puk: PUK, capacity: 2 * 1024 * 1024 })).rejects.toMatchObject({
      code: 'bad-capacity',
    });
    await expect(createCardImage(path(), { pin: '12', puk: PUK })).rejects.toMatchObject({ code: 'bad-card-message' });
    const modp = path();
    await createCardImage(modp, { suite: 'modp2048-256', pin: PIN, puk: PUK, capacity: 16 * 1024 });
    expect(inspectCardImage(modp).coinSlots).toBe(3);
  });
});
