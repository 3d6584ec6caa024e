/** The subcommands of `ecash`, one registration function per component. */
import type { Command } from 'commander';
import { registerBankCommands } from './bank.js';
import { registerBridgeCommands } from './bridge.js';
import { registerCardCommands } from './card.js';
import { registerDemoCommands } from './demo.js';
import { registerLoadCommands } from './load.js';
import { registerPosCommands } from './pos.js';
import { registerSimCommands } from './sim.js';

export function registerCommands(program: Command): void {
  void program;
  registerBankCommands(program);
  registerBridgeCommands(program);
  registerCardCommands(program);
  registerLoadCommands(program);
  registerPosCommands(program);
  registerDemoCommands(program);
  registerSimCommands(program);
}
