/** The screens people look at: the terminal display (more to come: simulator panel, bank console). */
export { registerTerminalDisplay } from './terminal-display.js';
