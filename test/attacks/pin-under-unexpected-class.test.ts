/**
 * Attack: reading a PIN off an APDU trace because the terminal sent it under a class the card does
 * not expect. Redaction (reader-bridge/trace.ts `carriesSecret`, used by the bridge's traces and the
 * simulator's) judged secrets by class: any class with b8 set counted as the e-cash class, whose
 * only secret-bearing instructions are PERSONALISE and SET LIMIT. A VERIFY sent as `A0 20 …`
 * (GSM-style class) or `81 10 …` (PERSONALISE on a logical channel) was kept whole, PIN digits
 * included, although the card refuses the class only after the bytes were traced. Before the fix
 * these commands were traced with their data; now only the e-cash class itself is judged by the
 * e-cash list, and every other class by both lists.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../core/index.js';
import { buildSimApi, Simulator, type TapTrace } from '../../host/sim/index.js';
import { carriesSecret, redactCommand } from '../../reader-bridge/index.js';

const TOKEN = 'sim-token-pin-class-0123456789';
const PIN_HEX = Buffer.from('24681357', 'ascii').toString('hex');

describe('a PIN sent under an unexpected class is redacted', () => {
  it('in the bridge trace, whatever the class', () => {
    expect(redactCommand(fromHex(`a020008008${PIN_HEX}`))).toBe('a0200080 [redacted]');
    expect(redactCommand(fromHex(`8410000008${PIN_HEX}`))).toBe('84100000 [redacted]');
    expect(redactCommand(fromHex(`0010000008${PIN_HEX}`))).toBe('00100000 [redacted]');
    expect(redactCommand(fromHex(`b024008008${PIN_HEX}`))).toBe('b0240080 [redacted]');
    // The e-cash class keeps its own meaning: 80 20 is WITHDRAW BEGIN, which carries no secret.
    expect(carriesSecret(fromHex('8020000001ff'))).toBe(false);
    expect(carriesSecret(fromHex('9020000001ff'))).toBe(false);
  });

  describe('in the simulator trace', () => {
    let sim: Simulator;
    let app: FastifyInstance;
    let base: string;

    beforeAll(async () => {
      sim = new Simulator({ readers: 1 });
      app = buildSimApi(sim, { token: TOKEN });
      base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/v1`;
    });

    afterAll(async () => {
      await app?.close();
      await sim?.close();
    });

    it('keeps only the header of a VERIFY sent as A0 20', async () => {
      const card = await sim.createCard({ kind: 'standard', pin: '24681357', puk: '1357924680', noPinLimit: 0 });
      sim.insert('Sim 0', card.id);
      const channel = await sim.readers.connect('Sim 0');
      try {
        await channel.transmit(fromHex(`a020008008${PIN_HEX}`), { timeoutMs: 5000 });
      } finally {
        await channel.disconnect('reset');
      }
      const text = await (await fetch(`${base}/readers/Sim%200/trace`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      const trace = (JSON.parse(text) as { trace: TapTrace }).trace;
      expect(trace.exchanges.at(-1)?.command).toMatchObject({ header: 'a0200080', data: null, redacted: true });
      expect(text).not.toContain(PIN_HEX);
    });
  });
});
