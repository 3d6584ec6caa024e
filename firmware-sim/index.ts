/**
 * firmware-sim: the emulated e-cash smart card, built the way a Java Card applet is built (a
 * runtime for ISO 7816-4, one applet, a transaction journal over persistent memory), so the same
 * design could be ported to a real secure element. Hosts reach it through a reader: the bridge's
 * virtual transport (in-process), pcscd through vpcd, or USB HID framing. docs/card.md.
 *
 * The message layouts are wire's (wire/card-protocol.ts); this face gives the card itself.
 */
export {
  createCardImage,
  openCard,
  createVolatileCard,
  personaliseCard,
  cardOnDevice,
  formatDevice,
  type SimulatedCard,
  type EcashCard,
  type CardExchange,
  type ExchangeListener,
  type CardOptions,
  type CreateCardOptions,
} from './card.js';
export { DEFAULT_CAPACITY, MIN_CAPACITY, MAX_CAPACITY, JOURNAL_CAPACITY } from './memory/layout.js';
export { RamNvm, TearingNvm, CardTornError, type NvmDevice, type TearPlan } from './memory/nvm.js';
export { JOURNAL_OFFSET, APPLET_DATA_OFFSET } from './memory/journal.js';
export { CHIP_PROFILES, chipProfile, pricesFor, modelledMs, zeroCost, type ChipProfile, type OperationPrices } from './cost.js';
export {
  serveOverVpcd,
  parseVpcdAddress,
  VPCD_DEFAULT_HOST,
  VPCD_DEFAULT_PORT,
  type VpcdConnection,
  type VpcdEvent,
  type VpcdOptions,
} from './connectors/vpcd.js';
export { inspectCardImage, type CardImageSummary, type CardDenomination } from './inspect.js';
export { openHidDevice, type HidCardDevice } from './connectors/hid-device.js';
export * from './error-codes.js';
