/**
 * USB HID card devices through node-hid: devices are found by vendor/product id and spoken to
 * with the APDU framing of docs/hid.md (wire/hid-framing.ts). A HID device is reader and card in
 * one, so its reader is always "card present". node-hid has no hot-plug events, so watching
 * polls the device list.
 */
import { randomInt } from 'node:crypto';
import { EcashError } from '../../core/index.js';
import { frameMessage, HidMessageAssembler } from '../../wire/index.js';
import { bridgeError, BRIDGE_ERROR, cardRemoved, channelClosed, noReader } from '../errors.js';
import { QueuedChannel } from '../exchange-queue.js';
import { ReaderEventHub, type CardChannel, type ReaderEventListener, type ReaderInfo, type ReaderTransport } from '../transport.js';

export interface HidDeviceInfo {
  path?: string | undefined;
  vendorId: number;
  productId: number;
  product?: string | undefined;
  manufacturer?: string | undefined;
}

/** The part of node-hid's `HIDAsync` the transport uses. */
export interface HidDevice {
  /** One output report, preceded by its report id (0x00: the device numbers no reports). */
  write(data: number[] | Buffer): Promise<number>;
  on(event: 'data', listener: (report: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'data', listener: (report: Buffer) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  close(): Promise<void>;
}

/** Where devices come from: node-hid itself, or a test double with its shape. */
export interface HidBackend {
  devices(vendorId: number, productId: number): Promise<HidDeviceInfo[]>;
  open(path: string): Promise<HidDevice>;
}

export interface HidDeviceFilter {
  vendorId: number;
  productId: number;
}

export interface HidTransportOptions {
  /** Which devices are e-cash cards. */
  devices: readonly HidDeviceFilter[];
  /** Default: node-hid, loaded when first needed. */
  backend?: HidBackend;
  /** How often `watch` looks at the device list (ms). */
  pollIntervalMs?: number;
  /** How long `reconnect()` waits for the device to be back (ms). */
  reconnectTimeoutMs?: number;
}

type NodeHid = typeof import('node-hid');

/**
 * node-hid, loaded lazily so the rest of the bridge works without the optional native module
 * (`moduleName` only to exercise the missing-module error).
 */
export async function nodeHidBackend(moduleName = 'node-hid'): Promise<HidBackend> {
  let hid: NodeHid;
  try {
    hid = (await import(moduleName)) as NodeHid;
  } catch (e) {
    throw bridgeError(
      BRIDGE_ERROR.HID_UNAVAILABLE,
      `USB HID support (the optional npm package ${moduleName}) is not available: run \`npm install node-hid\` ` +
        '(building it needs libudev-dev and libusb-1.0-0-dev on Debian/Ubuntu when no prebuilt binary fits)',
      { cause: e },
    );
  }
  return {
    devices: (vendorId, productId) => hid.devicesAsync(vendorId, productId),
    open: (path) => hid.HIDAsync.open(path),
  };
}

const REPORT_ID = 0x00;

function readerName(d: HidDeviceInfo): string {
  const id = `${d.vendorId.toString(16).padStart(4, '0')}:${d.productId.toString(16).padStart(4, '0')}`;
  return `${d.product || 'HID card'} [${id} ${d.path}]`;
}

export class HidTransport implements ReaderTransport {
  readonly kind = 'hid' as const;
  private backend: HidBackend | undefined;
  private readonly events = new ReaderEventHub();
  private readonly inUse = new Set<string>();
  private known = new Map<string, HidDeviceInfo>();
  private poller: NodeJS.Timeout | undefined;
  private closed = false;
  readonly reconnectTimeoutMs: number;

  constructor(private readonly options: HidTransportOptions) {
    this.backend = options.backend;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs ?? 5_000;
  }

  private async hid(): Promise<HidBackend> {
    this.backend ??= await nodeHidBackend();
    return this.backend;
  }

  /**
   * The matching devices, by reader name. Every scan, whoever asked for it, is compared with the
   * previous one, so a watcher hears of every change some scan saw.
   */
  async scan(): Promise<Map<string, HidDeviceInfo>> {
    const backend = await this.hid();
    const found = new Map<string, HidDeviceInfo>();
    for (const f of this.options.devices) {
      for (const d of await backend.devices(f.vendorId, f.productId)) {
        if (d.path !== undefined && d.vendorId === f.vendorId && d.productId === f.productId) found.set(readerName(d), d);
      }
    }
    this.diff(found);
    return found;
  }

  async listReaders(): Promise<ReaderInfo[]> {
    return [...(await this.scan()).keys()].map((name) => ({ name, transport: 'hid', cardPresent: true }));
  }

  watch(listener: ReaderEventListener): () => void {
    const stop = this.events.add(listener);
    if (this.poller === undefined && !this.closed) {
      const poll = async () => {
        try {
          await this.scan();
        } catch {
          // A failed scan (node-hid missing) reports nothing; listReaders says why.
        }
        if (this.events.size > 0 && !this.closed) this.poller = setTimeout(() => void poll(), this.options.pollIntervalMs ?? 1_000);
        else this.poller = undefined;
      };
      this.poller = setTimeout(() => void poll(), 0);
    }
    return stop;
  }

  private diff(now: Map<string, HidDeviceInfo>): void {
    for (const name of now.keys()) {
      if (!this.known.has(name)) this.events.emit({ type: 'reader-added', reader: { name, transport: 'hid', cardPresent: true } });
    }
    for (const name of this.known.keys()) {
      if (!now.has(name)) this.events.emit({ type: 'reader-removed', reader: { name, transport: 'hid', cardPresent: false } });
    }
    this.known = now;
  }

  async connect(name: string): Promise<CardChannel> {
    const info = (await this.scan()).get(name);
    if (info === undefined) throw noReader(name);
    const channel = new HidChannel(this, name);
    await channel.open(info);
    return channel;
  }

  /** @internal The device named `name`, waiting for it to be plugged back until `deadline`. */
  async find(name: string, deadline: number): Promise<HidDeviceInfo> {
    for (;;) {
      const info = (await this.scan()).get(name);
      if (info !== undefined) return info;
      if (Date.now() >= deadline || this.closed) throw noReader(name);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** @internal Opens a device for one channel at a time (hidraw has no sharing either). */
  async openDevice(name: string, path: string): Promise<HidDevice> {
    if (this.inUse.has(name)) {
      throw bridgeError(BRIDGE_ERROR.READER_BUSY, `HID device "${name}" is already connected: disconnect the other connection first`);
    }
    this.inUse.add(name);
    try {
      return await (await this.hid()).open(path);
    } catch (e) {
      this.inUse.delete(name);
      throw e;
    }
  }

  /** @internal */
  release(name: string): void {
    this.inUse.delete(name);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.poller);
    this.poller = undefined;
    this.events.clear();
  }
}

interface Pending {
  resolve(message: Uint8Array): void;
  reject(error: EcashError): void;
}

class HidChannel extends QueuedChannel implements CardChannel {
  readonly atr = new Uint8Array(0);
  readonly protocol = 'direct' as const;
  private device: HidDevice | undefined;
  private assembler: HidMessageAssembler | undefined;
  private channelId = 0;
  private pending: Pending | undefined;

  constructor(
    private readonly transport: HidTransport,
    private readonly name: string,
  ) {
    super(name);
  }

  get reader(): ReaderInfo {
    return { name: this.name, transport: 'hid', cardPresent: this.broken === undefined };
  }

  private readonly onReport = (report: Buffer): void => {
    try {
      const message = this.assembler?.push(new Uint8Array(report));
      if (message === undefined) return;
      const pending = this.pending;
      this.pending = undefined;
      pending?.resolve(message); // a message nobody waits for is dropped
    } catch (e) {
      this.fail(
        bridgeError(BRIDGE_ERROR.TRANSPORT_FAILURE, `HID device "${this.name}" sent a malformed report: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
  };

  private readonly onError = (error: Error): void => {
    // node-hid reports an unplugged device as a read error: the device is gone, and so is our hold on it.
    this.fail(
      bridgeError(BRIDGE_ERROR.CARD_REMOVED, `HID device "${this.name}" went away (${error.message}): plug it back and reconnect`, {
        cause: error,
      }),
    );
    void this.detach();
  };

  private fail(error: EcashError): void {
    this.broken = error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  /** @internal */
  async open(info: HidDeviceInfo): Promise<void> {
    try {
      this.device = await this.transport.openDevice(this.name, info.path!);
    } catch (e) {
      if (e instanceof EcashError) throw e;
      throw bridgeError(
        BRIDGE_ERROR.TRANSPORT_FAILURE,
        `cannot open HID device "${this.name}": ${(e as Error).message} (check the permissions of ${info.path})`,
        {
          cause: e,
        },
      );
    }
    // A fresh channel number per session, so a stale response from an earlier session is refused.
    this.channelId = randomInt(1, 0xffff);
    this.assembler = new HidMessageAssembler(this.channelId);
    this.device.on('data', this.onReport);
    this.device.on('error', this.onError);
    this.broken = undefined;
  }

  protected async exchange(command: Uint8Array): Promise<Uint8Array> {
    const device = this.device!;
    const answer = new Promise<Uint8Array>((resolve, reject) => (this.pending = { resolve, reject }));
    try {
      for (const report of frameMessage(this.channelId, command)) await device.write([REPORT_ID, ...report]);
    } catch (e) {
      this.fail(cardRemoved(this.name));
      void answer.catch(() => undefined);
      throw this.broken ?? e;
    }
    return answer;
  }

  private async detach(): Promise<void> {
    const device = this.device;
    this.device = undefined;
    if (device === undefined) return;
    device.off('data', this.onReport);
    device.off('error', this.onError);
    this.transport.release(this.name);
    await device.close().catch(() => undefined);
  }

  async reconnect(): Promise<void> {
    if (this.closed) throw channelClosed(this.name);
    const deadline = Date.now() + this.transport.reconnectTimeoutMs;
    this.fail(cardRemoved(this.name)); // ends an exchange still waiting on the old session
    await this.readyToReconnect();
    await this.detach();
    await this.open(await this.transport.find(this.name, deadline));
  }

  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.fail(channelClosed(this.name)); // ends an exchange the device will never answer
    await this.closing();
    await this.detach();
  }
}
