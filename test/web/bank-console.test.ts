/**
 * The bank console (host/web) in headless Chromium against a real bank over HTTP on SQLite: an
 * operator signs in, sees the audit's verdict, keys with outstanding e-cash, accounts and
 * merchants with their balances, the deposit batches with each coin's result (credited, rejected
 * with its code, a double spend), and a double spend naming its account, whose proof downloads and
 * verifies with the public parameters alone. A wrong or non-operator credential is refused with
 * the bank's own words. With ECASH_SCREENSHOTS=<dir> it saves the screen the README shows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proofFromJson, verifyDoubleSpendProof, type DoubleSpendProofJson } from '../../core/index.js';
import { type BankFixture, newHolder, pay, startBank, withdrawCoin } from '../bank/http-fixture.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';

const shots = process.env.ECASH_SCREENSHOTS;

describe.runIf(chromiumAvailable())('the bank console', () => {
  let bank: BankFixture;
  let operatorToken: string;
  let merchantToken: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    bank = await startBank('sqlite');
    operatorToken = (await bank.service.addOperator('console')).credential;
    const alice = await newHolder(bank, 'alice', 5_000);
    await newHolder(bank, 'bob', 1_200);
    const added = [
      await bank.operator.addMerchant({ merchantId: 'corner-shop', name: 'Corner Shop' }),
      await bank.operator.addMerchant({ merchantId: 'cafe', name: 'Cafe Central' }),
    ];
    merchantToken = added[0]!.credential;
    const [shop, cafe] = added.map((a) => bank.anon.withToken(a.credential));
    // One coin paid at two shops: the second deposit names alice.
    const coin = await withdrawCoin(bank, alice);
    await shop!.deposit({
      suite: bank.group.suite,
      batchId: 'b1',
      transcripts: [pay(bank, alice, coin, 'corner-shop'), { nonsense: true }],
    });
    await cafe!.deposit({ suite: bank.group.suite, batchId: 'b2', transcripts: [pay(bank, alice, coin, 'cafe')] });
    await withdrawCoin(bank, alice); // outstanding
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 }, locale: 'en-US', acceptDownloads: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await bank?.dispose();
  });

  const signIn = async (token: string) => {
    await page.getByLabel('Operator credential').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it("refuses a credential that is not an operator's, saying why", async () => {
    await page.goto(`${bank.url}/console`);
    await expect.poll(() => page.getByLabel('Operator credential').isVisible()).toBe(true);
    await signIn('ecash.0123456789abcdef.' + 'x'.repeat(43));
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/unauthorized/);
    await signIn(merchantToken);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/operator credential.*forbidden/);
  });

  it('shows the verdict, the keys, accounts, merchants and the double spend with its proof', async () => {
    await signIn(operatorToken);
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/^The books balance/);
    // The rendered text, cells separated by tabs (textContent would run them together).
    // biome-ignore lint/performance/useDomNodeTextContent: the tabs between cells are what is matched
    const table = (id: string) => page.locator(`#${id} tbody`).innerText();
    await expect.poll(() => table('accounts')).toMatch(/alice/);
    expect(await table('accounts')).toMatch(/bob\s+\S+\s+12\.00 EUR/);
    // The corner shop was credited the coin (5.00 EUR); the cafe's copy was the double spend.
    expect(await table('merchants')).toMatch(/corner-shop\s+Corner Shop\s+5\.00 EUR/);
    expect(await table('keys')).toMatch(/5\.00 EUR.*\t2\t1\t1\t5\.00 EUR/);
    expect(await table('double-spends')).toMatch(/alice \([0-9a-f]{24}\)\s+cafe/);
    // The batches, newest first: the cafe's one coin was the double spend, with its proof's number;
    // the corner shop's first coin was credited, its second (no transcript at all) rejected.
    const [proofNo] = (await table('double-spends')).match(/proof \d+/)!;
    expect(await table('deposits')).toMatch(
      new RegExp(
        `cafe\\s+b2\\s+1\\s+—\\s+double spend \\(${proofNo}\\)\\s+[^\\n]*corner-shop\\s+b1\\s+2\\s+5\\.00 EUR\\s+credited\\s+rejected: bad-transcript`,
      ),
    );
    const coins = page.getByRole('row', { name: /corner-shop/ }).getByRole('listitem');
    expect(await coins.allTextContents()).toEqual(['credited', 'rejected: bad-transcript']);
    if (shots !== undefined) await page.screenshot({ path: join(shots, 'bank-console.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /^proof / }).click()]);
    const proof = JSON.parse(readFileSync(await download.path(), 'utf8')) as DoubleSpendProofJson;
    expect(() => verifyDoubleSpendProof(bank.group, proofFromJson(bank.group, proof))).not.toThrow();
  });
});
