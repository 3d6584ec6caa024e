/** `ecash demo`: the whole story on embedded defaults (see host/demo/demo.ts). */
import type { Command } from 'commander';
import { EcashError, isSuiteId, SUITE_IDS } from '../../core/index.js';
import { runDemo } from '../demo/index.js';
import { action, info } from './output.js';
import { wantsJson } from './options.js';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole system in one process: bank on SQLite, a card in a virtual reader, loading, payments, settlement, a double spend caught',
    )
    .option('--suite <id>', `the group suite (${SUITE_IDS.join(', ')})`)
    .option('--keep', 'keep the bank database, journals and card images (the path is printed)')
    .action(
      action(async (opts: { suite?: string; keep?: boolean }, cmd: Command) => {
        const json = wantsJson(cmd);
        if (opts.suite !== undefined && !isSuiteId(opts.suite)) {
          throw new EcashError('unknown-suite', `--suite must be one of ${SUITE_IDS.join(', ')}, not "${opts.suite}"`);
        }
        const report = await runDemo({
          ...(opts.suite === undefined ? {} : { suite: opts.suite }),
          say: info,
          keepDir: opts.keep === true,
        });
        if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else
          process.stdout.write(
            `demo complete: ${report.payments.length} coins paid, 1 double spender identified (account ${report.doubleSpend.account})\n`,
          );
      }),
    );
}
