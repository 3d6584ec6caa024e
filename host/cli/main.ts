/**
 * The `ecash` command. Each component registers its subcommands from its own module; this file
 * only assembles them. Run `ecash <command> --help` for each command's options.
 */
import { Command } from 'commander';
import { installGroupBackends } from '../../core/backends/index.js';
import { registerCommands } from './commands.js';

const program = new Command();
program
  .name('ecash')
  .description('Offline card-based prepaid electronic cash (Brands\' scheme): bank, card, reader bridge and terminals')
  .option('--json', 'print one machine-readable JSON document on stdout (logs go to stderr)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((err) => {
    // Commander's own usage errors: keep its message, exit 2 like other CLI tools.
    process.exit(err.exitCode === 0 ? 0 : 2);
  })
  // Faster group arithmetic where this platform has it (libsodium, OpenSSL), before a command
  // uses any suite; --help and usage errors do not pay for loading libsodium.
  .hook('preAction', async () => {
    await installGroupBackends();
  });

registerCommands(program);

await program.parseAsync(process.argv);
