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
export { buildSimApi, type SimApiOptions } from './api.js';
export {
  parseScenario,
  readScenario,
  runScenario,
  type Scenario,
  type ScenarioStep,
  type ScenarioTargets,
  type StepResult,
} from './scenario.js';
