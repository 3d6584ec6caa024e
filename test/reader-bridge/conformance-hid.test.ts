/**
 * The HID transport against firmware-sim's card as a HID device. These machines have no
 * /dev/uhid, so the device itself is the firmware's device side (node-hid's HIDAsync shape over
 * core's framing); enumeration still asks node-hid for real and adds the plugged double to what
 * it finds.
 */
import { describe, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import { openHidDevice, type EcashCard, type HidCardDevice } from '../../firmware-sim/index.js';
import { HidTransport, nodeHidBackend, type HidBackend, type HidDeviceInfo } from '../../reader-bridge/index.js';
import { conformanceSuite, eventually, newCard } from './conformance.js';

// pid.codes' vendor id with a product id it sets aside for testing.
const VENDOR_ID = 0x1209;
const PRODUCT_ID = 0x0001;
const PATH = 'test-double:hidraw-ecash';

/** A USB port holding at most one e-cash token; node-hid lists everything else. */
class TestPort {
  private card: EcashCard | undefined;
  private device: HidCardDevice | undefined;

  constructor(private readonly real: HidBackend) {}

  plug(card: EcashCard): void {
    this.card = card;
  }

  /** Pulls the token out: an open device reports a read error, as node-hid does on unplug. */
  async unplug(): Promise<void> {
    const device = this.device as
      | (HidCardDevice & { emit(event: 'error', e: Error): boolean; listenerCount(event: 'error'): number })
      | undefined;
    this.card = undefined;
    this.device = undefined;
    if (device === undefined) return;
    if (device.listenerCount('error') > 0) device.emit('error', new Error('could not read from HID device'));
    await device.close();
  }

  readonly backend: HidBackend = {
    devices: async (vendorId, productId) => {
      const found: HidDeviceInfo[] = await this.real.devices(vendorId, productId);
      if (this.card !== undefined && vendorId === VENDOR_ID && productId === PRODUCT_ID) {
        found.push({ path: PATH, vendorId, productId, product: 'e-cash token', manufacturer: 'test' });
      }
      return found;
    },
    open: async (path) => {
      if (path !== PATH) return this.real.open(path);
      if (this.card === undefined) throw new Error(`cannot open ${path}: no such device`);
      this.device = openHidDevice(this.card);
      return this.device;
    },
  };
}

const READER = `e-cash token [1209:0001 ${PATH}]`;

conformanceSuite('HID transport (device double)', async () => {
  const port = new TestPort(await nodeHidBackend());
  const transport = new HidTransport({
    devices: [{ vendorId: VENDOR_ID, productId: PRODUCT_ID }],
    backend: port.backend,
    pollIntervalMs: 50,
  });
  return {
    transport,
    reader: READER,
    removalEvent: 'reader-removed',
    insert: async (card) => port.plug(card),
    remove: () => port.unplug(),
    unplugReader: () => port.unplug(),
    close: async () => {
      await transport.close();
      await port.unplug();
    },
  };
});

describe('HID enumeration', () => {
  it('says what to install when node-hid is missing', async () => {
    const error = await nodeHidBackend('node-hid-not-installed').catch((e: unknown) => e);
    expect(isEcashError(error, 'hid-unavailable')).toBe(true);
    expect((error as Error).message).toMatch(/npm install node-hid/);
  });

  it('asks node-hid itself for devices of the given vendor and product id', async () => {
    const transport = new HidTransport({ devices: [{ vendorId: VENDOR_ID, productId: PRODUCT_ID }] });
    // No such token is plugged into this machine: node-hid answers, and the answer is empty.
    expect(await transport.listReaders()).toEqual([]);
    await transport.close();
  });

  it('lists a plugged token as a reader that holds its card', async () => {
    const port = new TestPort(await nodeHidBackend());
    const transport = new HidTransport({ devices: [{ vendorId: VENDOR_ID, productId: PRODUCT_ID }], backend: port.backend });
    port.plug(await newCard('ristretto255-sha512'));
    await eventually(async () => ((await transport.listReaders()).length === 1 ? true : undefined), 'the token');
    expect(await transport.listReaders()).toEqual([{ name: READER, transport: 'hid', cardPresent: true }]);
    await transport.close();
  });
});
