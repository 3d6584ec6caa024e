/** The subcommands of `ecash`, one registration function per component. */
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
}
