/**
 * reader-bridge: how hosts talk to cards. One channel interface (transport.ts) over PC/SC, USB
 * HID, an in-process simulated card, a remote reader and recorded sessions; an APDU client that
 * does GET RESPONSE, Le correction, extended lengths and chaining; per-class time budgets;
 * APDU tracing with PINs redacted. See docs/bridge.md.
 */
export * from './errors.js';
export * from './transport.js';
export {
  COMMAND_CLASSES,
  DEFAULT_TIMEOUTS,
  isCommandClass,
  resolveTimeouts,
  parseTimeoutSpec,
  type CommandClass,
  type TimeoutBudgets,
} from './timeouts.js';
export { ApduClient, type ApduClientOptions, type LengthMode, type SendOptions } from './apdu-client.js';
export {
  tracedChannel,
  redactCommand,
  carriesSecret,
  formatTraceEntry,
  REDACTED_MARKER,
  type TraceEntry,
  type TraceSink,
} from './trace.js';
export { SessionRecorder, ReplayTransport, parseCassette, type Cassette, type RecordedExchange } from './replay.js';
export { ReaderSet, type ReaderSource, type UnavailableTransport } from './reader-set.js';
export { VirtualTransport } from './transports/virtual.js';
export { PcscTransport, type PcscTransportOptions } from './transports/pcsc.js';
export {
  HidTransport,
  nodeHidBackend,
  type HidBackend,
  type HidDevice,
  type HidDeviceFilter,
  type HidDeviceInfo,
  type HidTransportOptions,
} from './transports/hid.js';
export { RemoteTransport, type RemoteTransportOptions } from './transports/remote.js';
export {
  startBridgeServer,
  checkBridgeToken,
  DEFAULT_BRIDGE_HOST,
  MIN_TOKEN_LENGTH,
  type BridgeServer,
  type BridgeServerOptions,
} from './remote-server.js';
export { BRIDGE_PROTOCOL_VERSION, BRIDGE_PATH } from './remote-protocol.js';
export { openReaders, parseHidDevice, type ReaderOptions } from './open.js';
export { EcashCardClient, cardStatusError } from './ecash-client.js';
