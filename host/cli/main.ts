/**
 * The `ecash` command. Each component registers its subcommands from its own module; this file
 * only assembles them. Run `ecash <command> --help` for each command's options.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { installGroupBackends } from '../../core/backends/index.js';
import { registerCommands } from './commands.js';

/** This package's version, from its package.json (above dist/host/cli when built, host/cli in source). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const program = new Command();
program
  .name('ecash')
  .version(packageVersion(), '-V, --version', 'print the version of ecash')
  // Every subcommand's help lists --json too: it is given before or after the subcommand.
  .configureHelp({ showGlobalOptions: true })
  .description("Offline card-based prepaid electronic cash (Brands' scheme): bank, card, reader bridge and terminals")
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

// The command has finished (a server's action returns only once it was told to stop), so the
// process ends, with the command's exit code. A native library may still hold a thread: pcsclite's
// reader-status thread can miss the cancel its close() sends when the machine is loaded (seen once:
// \`ecash readers --wait-for-card\` printed its answer and then hung). This is a known upstream race:
// node-pcsclite issue #70 (the process does not exit after close()) and pcsc-lite issue #160
// (SCardCancel around a SCardGetStatusChange timeout), so it is worked around here rather than
// fixed. Unref'd, this timer only acts if something is still keeping the process alive a second later.
setTimeout(() => process.exit(), 1_000).unref();
