/**
 * The readers a host uses, from its options: the local PC/SC and HID readers, or those of a
 * remote bridge. Every host (POS, load terminal, CLI) opens its readers through here.
 */
import { EcashError } from '../core/index.js';
import { ReaderSet } from './reader-set.js';
import { HidTransport, type HidDeviceFilter } from './transports/hid.js';
import { PcscTransport, type PcscTransportOptions } from './transports/pcsc.js';
import { RemoteTransport } from './transports/remote.js';

export interface ReaderOptions {
  /** The readers of a remote bridge (`ws://host:port/v1`) instead of the local ones. */
  bridge?: { url: string; token: string };
  /** USB HID devices that are e-cash cards, by vendor and product id. */
  hidDevices?: readonly HidDeviceFilter[];
  pcsc?: PcscTransportOptions;
}

export function openReaders(options: ReaderOptions = {}): ReaderSet {
  if (options.bridge) return new ReaderSet([new RemoteTransport(options.bridge)]);
  return new ReaderSet([new PcscTransport(options.pcsc), new HidTransport({ devices: options.hidDevices ?? [] })]);
}

/** `vid:pid` in hex, as on the command line (`2c97:0001`). */
export function parseHidDevice(spec: string): HidDeviceFilter {
  const m = /^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})$/.exec(spec.trim());
  if (!m) throw new EcashError('bad-hid-device', `"${spec}" is not vendor:product in hex (for example 2c97:0001)`);
  return { vendorId: parseInt(m[1]!, 16), productId: parseInt(m[2]!, 16) };
}
