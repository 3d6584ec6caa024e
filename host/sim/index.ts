/**
 * host/sim: the card simulator (docs/sim.md). Simulated readers served over the reader bridge,
 * emulated cards made and moved through a test-helper HTTP API, and scenario files played
 * against a terminal's cash-register API.
 */
export {
  Simulator,
  CARD_KINDS,
  DEFAULT_PIN,
  DEFAULT_PUK,
  type CardKind,
  type CardSpec,
  type CardView,
  type LoadSpec,
  type PullPlan,
  type ReaderView,
  type SimulatorOptions,
} from './simulator.js';
export { buildSimApi, SIM_SESSION_COOKIE, type SimApiOptions } from './api.js';
export { MAX_EXCHANGES, type SimEvent, type TapTrace, type TracedExchange } from './taps.js';
export {
  parseScenario,
  readScenario,
  runScenario,
  type Scenario,
  type ScenarioStep,
  type ScenarioTargets,
  type StepResult,
} from './scenario.js';
export * from './error-codes.js';
