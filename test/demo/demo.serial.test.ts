/**
 * `ecash demo --json`, run as the built command (the README's `npm run demo`), and its JSON
 * re-checked here with nothing but core's public verification: every payment transcript verifies
 * under the published key, the double spend's two transcripts are two different payments of one
 * coin, u1 opens I, and the account named is the one the demo's card opened.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  type DenominationKey,
  fromHex,
  getGroup,
  identifyDoubleSpender,
  type SuiteId,
  transcriptFromJson,
  verifyTranscript,
} from '../../core/index.js';
import { DEMO_PIN, DEMO_PUK, type DemoReport } from '../../host/demo/demo.js';

const run = promisify(execFile);

async function demo(args: string[]): Promise<{ report: DemoReport; stderr: string }> {
  // Ended (with its stderr in the error) before the test's timeout rather than left running.
  const { stdout, stderr } = await run('node', ['bin/ecash.js', 'demo', '--json', ...args], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 110_000,
    killSignal: 'SIGKILL',
  });
  return { report: JSON.parse(stdout) as DemoReport, stderr };
}

function recheck(report: DemoReport): void {
  const group = getGroup(report.suite);
  expect(report.generators.g).toBe(Buffer.from(group.encode(group.g)).toString('hex'));
  // Only what the report publishes: key id, h, value, currency (the rest of the terms do not enter verification).
  const keys = new Map<string, DenominationKey>(
    report.denominations.map((d) => [
      d.keyId,
      {
        suite: report.suite,
        keyId: fromHex(d.keyId),
        h: group.decode(fromHex(d.h)),
        value: d.value,
        currency: d.currency,
        withdrawFrom: 0,
        withdrawUntil: 0,
        depositUntil: 0,
        scope: '',
      },
    ]),
  );
  expect(report.payments.length).toBeGreaterThan(0);
  for (const json of report.payments) {
    const t = transcriptFromJson(group, json);
    expect(verifyTranscript(group, keys.get(json.keyId)!, t)).toBe(true);
  }
  const [t1, t2] = report.doubleSpend.transcripts.map((j) => transcriptFromJson(group, j));
  expect(report.doubleSpend.transcripts[0].keyId).toBe(report.doubleSpend.transcripts[1].keyId);
  const key = keys.get(report.doubleSpend.transcripts[0].keyId)!;
  expect(verifyTranscript(group, key, t1!)).toBe(true);
  expect(verifyTranscript(group, key, t2!)).toBe(true);
  const found = identifyDoubleSpender(group, t1!, t2!);
  expect(Buffer.from(group.scalars.encode(found.u1)).toString('hex')).toBe(report.doubleSpend.u1);
  expect(Buffer.from(group.encode(group.exp(group.g1, found.u1))).toString('hex')).toBe(report.doubleSpend.I);
  expect(report.doubleSpend.account).toMatch(/^[0-9a-f]{24}$/);
}

describe('ecash demo', () => {
  it('tells the whole story on the default suite and its JSON re-checks independently', async () => {
    const { report, stderr } = await demo([]);
    expect(report.suite).toBe<SuiteId>('ristretto255-sha512');
    recheck(report);
    expect(stderr).toMatch(/double spend .* names account/);
    expect(stderr).toMatch(/refused at the counter/);
    expect(stderr).toMatch(/audit ok/);
    // No secret of the card or the bank shows in the story.
    expect(stderr).not.toContain(report.doubleSpend.u1);
    for (const secret of [DEMO_PIN, DEMO_PUK])
      expect(new RegExp(`\\b${secret}\\b`).test(stderr), 'the card PIN or PUK in the story').toBe(false);
    // The account the bank named is the one the demo's card opened.
    expect(stderr).toContain(`account ${report.doubleSpend.account} opened for Alice`);
  }, 120_000);

  it('runs on p256-uprove and modp2048-256 too', async () => {
    for (const suite of ['p256-uprove', 'modp2048-256'] as const) {
      const { report } = await demo(['--suite', suite]);
      expect(report.suite).toBe(suite);
      recheck(report);
    }
  }, 240_000);

  it('refuses an unknown suite with a clear error', async () => {
    await expect(demo(['--suite', 'rsa'])).rejects.toMatchObject({ code: 1, stdout: expect.stringContaining('unknown-suite') });
  });
});
