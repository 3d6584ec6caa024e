/**
 * cli: the `ecash` command. bin/ecash.js runs main.ts; this face gives the subcommands to anyone who
 * builds their own commander program around them.
 */
export { registerCommands } from './commands.js';
export * from './error-codes.js';
