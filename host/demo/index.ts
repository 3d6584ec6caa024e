/** demo: `ecash demo`, the whole system in one process through its real pieces (README "The demo"). */
export { runDemo, DEMO_PIN, DEMO_PUK, type DemoOptions, type DemoReport, type DemoScreens, type DemoWeb } from './demo.js';
export * from './error-codes.js';
