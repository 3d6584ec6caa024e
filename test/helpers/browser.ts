/**
 * Headless Chromium for the screens' tests, driven by playwright-core (Debian's chromium, which
 * `.ci/run` installs; playwright's own browser download is not used). Skipped with a reason on a
 * developer machine without Chromium; under CI it must run.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { requireService } from './env.js';

export const CHROMIUM = process.env.ECASH_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumAvailable = (): boolean => requireService(existsSync(CHROMIUM), `Chromium (${CHROMIUM})`);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox as root in CI; no background traffic on this machine's closed network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
