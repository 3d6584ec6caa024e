import { describe, expect, it } from 'vitest';
import { isEcashError } from '../../core/index.js';
import { loadPcsclite, pcscResult } from '../../reader-bridge/transports/pcsclite-binding.js';
import { PcscTransport } from '../../reader-bridge/index.js';
import { cardTransitions } from '../../reader-bridge/transports/pcsc.js';

describe('PC/SC binding', () => {
  it('names the system packages to install when the native module is missing', async () => {
    const error = await loadPcsclite('pcsclite-not-installed').catch((e: unknown) => e);
    expect(isEcashError(error, 'pcsc-unavailable')).toBe(true);
    expect((error as Error).message).toMatch(/libpcsclite-dev/);
    expect((error as Error).message).toMatch(/pcscd/);
    const transport = new PcscTransport({ moduleName: 'pcsclite-not-installed' });
    await expect(transport.listReaders()).rejects.toSatisfy((e) => isEcashError(e, 'pcsc-unavailable'));
    await transport.close();
  });

  it('reads the PC/SC result code out of a pcsclite error', () => {
    expect(pcscResult(new Error('SCardTransmit error: Card was removed.(0x80100069)'))).toBe(0x80100069);
    expect(pcscResult(new Error('Card Reader not connected'))).toBeUndefined();
  });

  it("recovers card events merged into one status from pcsc-lite's event count", () => {
    expect(cardTransitions(false, true, 1)).toEqual(['card-inserted']);
    expect(cardTransitions(true, false, 1)).toEqual(['card-removed']);
    expect(cardTransitions(true, true, 0)).toEqual([]); // another bit changed (in use, exclusive)
    expect(cardTransitions(true, true, 2)).toEqual(['card-removed', 'card-inserted']); // swapped unseen
    expect(cardTransitions(false, false, 2)).toEqual(['card-inserted', 'card-removed']); // came and went
    expect(cardTransitions(false, true, 3)).toEqual(['card-inserted']);
  });
});
