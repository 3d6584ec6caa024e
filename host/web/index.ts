/** The screens people look at: the terminal display (ecash pos serve) and the bank console (ecash bank serve). */
export { registerTerminalDisplay } from './terminal-display.js';
export { registerBankConsole } from './bank-console.js';
