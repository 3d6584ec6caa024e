/**
 * `ecash demo --web`, run as the built command (the README's `npm run demo -- --web`): it prints
 * the bank console's and the terminals' displays' loopback addresses with the credentials a viewer
 * signs in with (once, on stdout; never in the story on stderr), plays its story, and keeps the
 * screens up until Ctrl-C. In headless Chromium the console, signed in with the printed operator
 * credential, shows the story's double spend naming the demo card's account, and the kiosk's display,
 * opened with the printed API key, shows the clone declined. SIGINT then ends the demo cleanly.
 */
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { endStartedProcesses, exitOf, startCli, stderrLine, waitForOutput } from '../helpers/cli.js';

interface Screens {
  console: string;
  credential: string;
  displays: Record<string, string>;
  apiKey: string;
}

/** The screens block `demo --web` prints on stdout, once it is whole. */
function screensIn(stdout: string): Screens | undefined {
  const apiKey = /the displays' API key: (\S+)\n/.exec(stdout)?.[1];
  if (apiKey === undefined) return undefined;
  const displays = Object.fromEntries(
    [...stdout.matchAll(/ {2}(\S+) display +(http:\/\/127\.0\.0\.1:\d+\/display\/)/g)].map((m) => [m[1]!, m[2]!]),
  );
  return {
    console: /bank console +(http:\/\/127\.0\.0\.1:\d+\/console\/)/.exec(stdout)![1]!,
    credential: /operator credential (\S+)/.exec(stdout)![1]!,
    displays,
    apiKey,
  };
}

describe.runIf(chromiumAvailable())('ecash demo --web', () => {
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await endStartedProcesses();
  });

  it('serves the console and the displays while the story plays, and shows the double spend', async () => {
    const demo = startCli(['demo', '--web', '--pace', '0']);
    const screens = await waitForOutput(demo, screensIn, 'the screens and their credentials');
    expect(Object.keys(screens.displays)).toEqual(['corner-shop', 'cafe', 'kiosk']);
    const caught = await waitForOutput(demo, stderrLine('bank: double spend'), 'the double spend caught', 60_000);
    const account = /names account ([0-9a-f]+)/.exec(caught)![1]!;
    await waitForOutput(demo, stderrLine('the screens stay up until Ctrl-C'), 'the end of the story', 60_000);

    for (const url of [screens.console, ...Object.values(screens.displays)]) {
      const res = await fetch(url);
      expect([url, res.status, res.headers.get('content-type')]).toEqual([url, 200, expect.stringMatching(/^text\/html/)]);
    }
    // The display's terminal took the story's payments: its API answers the printed key.
    const payments = await fetch(new URL('/v1/payments', screens.displays['corner-shop']), {
      headers: { authorization: `Bearer ${screens.apiKey}` },
    });
    expect(payments.status).toBe(200);
    expect(((await payments.json()) as { payments: unknown[] }).payments.length).toBe(4);

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, locale: 'en-US' });
    await page.goto(screens.console);
    await page.getByLabel('Operator credential').fill(screens.credential);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/^The books balance/);
    // biome-ignore lint/performance/useDomNodeTextContent: the tabs between cells are what is matched
    const doubleSpends = () => page.locator('#double-spends tbody').innerText();
    await expect.poll(doubleSpends).toMatch(new RegExp(`Alice \\(${account}\\)\\s+cafe`));

    await page.goto(screens.displays.kiosk!);
    await page.getByLabel('API key').fill(screens.apiKey);
    await page.getByRole('button', { name: 'Connect' }).click();
    // The kiosk's one payment: the clone, refused at the counter.
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Declined');

    demo.child.kill('SIGINT');
    expect(await exitOf(demo), demo.stderr()).toBe(0);
    expect(demo.stdout()).toMatch(/demo complete: \d+ coins paid, 1 double spender identified/);
    // The credentials were printed once, on stdout, and never logged.
    for (const secret of [screens.credential, screens.apiKey]) {
      expect(demo.stdout().split(secret).length - 1).toBe(1);
      expect(demo.stderr()).not.toContain(secret);
    }
  });
});
