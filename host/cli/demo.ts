/** `ecash demo`: the whole story on embedded defaults (see host/demo/demo.ts). */
import type { Command } from 'commander';
import { EcashError, isEcashError, isSuiteId, SUITE_IDS } from '../../core/index.js';
import { type DemoScreens, runDemo } from '../demo/index.js';
import { action, info } from './output.js';
import { wantsJson, wholeNumber } from './options.js';
import { listenForStop } from './signals.js';

interface DemoCliOptions {
  suite?: string;
  keep?: boolean;
  web?: boolean;
  pace: string;
  webHold?: string;
}

/** The screens and their credentials, on the terminal once (stdout), never in the story's log. */
function describeScreens(s: DemoScreens): string {
  return [
    'the screens (loopback only):',
    `  ${'bank console'.padEnd(20)}${s.console.url}`,
    `    sign in with the operator credential ${s.console.operatorCredential}`,
    ...s.displays.map((d) => `  ${`${d.merchant} display`.padEnd(20)}${d.url}`),
    `    the displays' API key: ${s.displayApiKey}`,
    '',
  ].join('\n');
}

/** Until Ctrl-C (the signal), or `ms` when given. */
async function holdScreens(signal: AbortSignal, ms: number | undefined): Promise<void> {
  info(ms === undefined ? 'ecash: the screens stay up until Ctrl-C' : `ecash: the screens stay up ${ms / 1000} s (or until Ctrl-C)`);
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    if (ms !== undefined) timer = setTimeout(resolve, ms);
  });
  clearTimeout(timer);
}

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole system in one process: bank on SQLite, a card in a virtual reader, loading, payments, settlement, a double spend caught',
    )
    .option('--suite <id>', `the group suite (${SUITE_IDS.join(', ')})`)
    .option('--keep', 'keep the bank database, journals and card images (the path is printed)')
    .option('--web', "serve the bank console and the terminals' displays on loopback while the story plays, until Ctrl-C")
    .option('--pace <ms>', 'with --web: milliseconds between the story steps, for the viewer', '2500')
    .option('--web-hold <seconds>', 'with --web: stop this long after the story ends instead of waiting for Ctrl-C')
    .action(
      action(async (opts: DemoCliOptions, cmd: Command) => {
        const json = wantsJson(cmd);
        if (opts.suite !== undefined && !isSuiteId(opts.suite)) {
          throw new EcashError('unknown-suite', `--suite must be one of ${SUITE_IDS.join(', ')}, not "${opts.suite}"`);
        }
        if (opts.web && json) throw new EcashError('bad-option', '--web is for a person at the screens: leave out --json');
        if (!opts.web && opts.webHold !== undefined) throw new EcashError('bad-option', '--web-hold goes with --web');
        const stop = opts.web ? listenForStop() : undefined;
        const stopping = new AbortController();
        void stop?.received.then(() => stopping.abort());
        const holdMs = opts.webHold === undefined ? undefined : wholeNumber(opts.webHold, '--web-hold') * 1000;
        try {
          const report = await runDemo({
            ...(opts.suite === undefined ? {} : { suite: opts.suite }),
            say: info,
            keepDir: opts.keep === true,
            ...(stop === undefined
              ? {}
              : {
                  web: {
                    paceMs: wholeNumber(opts.pace, '--pace'),
                    show: (screens: DemoScreens) => process.stdout.write(describeScreens(screens)),
                    hold: () => holdScreens(stopping.signal, holdMs),
                    signal: stopping.signal,
                  },
                }),
          });
          if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          else
            process.stdout.write(
              `demo complete: ${report.payments.length} coins paid, 1 double spender identified (account ${report.doubleSpend.account})\n`,
            );
        } catch (e) {
          if (!isEcashError(e, 'demo-stopped')) throw e;
          info('ecash: demo stopped before the end of its story');
        } finally {
          stop?.dispose();
        }
      }),
    );
}
