/**
 * The screens people look at: the terminal display (ecash pos serve), the bank console (ecash bank
 * serve) and the simulator panel (ecash sim serve), and the browser sessions their APIs give them.
 */
export { registerTerminalDisplay } from './terminal-display.js';
export { registerBankConsole } from './bank-console.js';
export { registerSimPanel } from './sim-panel.js';
export { BrowserSessions, registerSessionRoutes } from './browser-sessions.js';
export { type EventStream, EventStreams } from './event-streams.js';
export { bearerMatches, sendApiError } from './api-replies.js';
export * from './error-codes.js';
