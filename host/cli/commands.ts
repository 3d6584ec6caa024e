/** The subcommands of `ecash`, one registration function per component. */
import type { Command } from 'commander';
import { registerBridgeCommands } from './bridge.js';

export function registerCommands(program: Command): void {
  void program;
  registerBridgeCommands(program);
}
