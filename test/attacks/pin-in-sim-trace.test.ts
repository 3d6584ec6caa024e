/**
 * Attack: reading a holder's PIN or PUK off the card simulator's APDU trace. The simulator panel
 * (and anyone with the simulator's token or a panel session) sees every command a terminal sends
 * the card in a reader; VERIFY PIN, CHANGE PIN and UNBLOCK PIN carry the PIN, the new PIN and the
 * PUK. The defence is host/sim/taps.ts `describeCommand`: a command that carries a secret keeps
 * its 4-byte header only (no Lc, no data) before anything is stored, so neither the trace route
 * nor the event stream can show it. With that check taken out, this test fails (the VERIFY's data
 * is the PIN's digits as hex).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSimApi, Simulator, type TapTrace } from '../../host/sim/index.js';
import { EcashCardClient } from '../../reader-bridge/index.js';
import { EventStreamReader } from '../helpers/sse.js';

const TOKEN = 'sim-token-pin-trace-0123456789';
const PIN = '9753186420';
const NEW_PIN = '5318642097';
const PUK = '8642097531864';
const LATER_PIN = '3141592653';
const SECRETS = [PIN, NEW_PIN, PUK, LATER_PIN];

/** Each secret as digits, as their ASCII bytes in hex, and as packed BCD. */
const forms = (digits: string): string[] => [
  digits,
  Buffer.from(digits, 'ascii').toString('hex'),
  digits.length % 2 === 0 ? digits : `${digits}f`,
];

describe('a PIN entered at a simulated reader appears in no trace answer', () => {
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

  it('VERIFY, CHANGE and UNBLOCK are traced by name and status only, over the route and the event stream', async () => {
    const stream = await EventStreamReader.open(`${base}/events`, { authorization: `Bearer ${TOKEN}` });
    try {
      const card = await sim.createCard({ kind: 'standard', pin: PIN, puk: PUK, noPinLimit: 0 });
      sim.insert('Sim 0', card.id);
      const channel = await sim.readers.connect('Sim 0');
      try {
        const client = EcashCardClient.on(channel);
        await client.select();
        await expect(client.verifyPin(NEW_PIN)).rejects.toMatchObject({ code: 'pin-wrong' });
        await client.verifyPin(PIN);
        await client.changePin(PIN, NEW_PIN);
        await client.unblockPin(PUK, LATER_PIN);
        await client.verifyPin(LATER_PIN);
      } finally {
        await channel.disconnect('reset');
      }
      const answer = await fetch(`${base}/readers/Sim%200/trace`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const text = await answer.text();
      const trace = (JSON.parse(text) as { trace: TapTrace }).trace;
      expect(trace.exchanges.map((e) => e.name)).toEqual(['SELECT', 'VERIFY PIN', 'VERIFY PIN', 'CHANGE PIN', 'UNBLOCK PIN', 'VERIFY PIN']);
      expect(trace.exchanges.map((e) => e.response?.status)).toEqual(['ok', expect.stringMatching(/^wrong PIN/), 'ok', 'ok', 'ok', 'ok']);
      for (const e of trace.exchanges.slice(1)) expect(e.command).toMatchObject({ lc: null, data: null, redacted: true });
      // The stream has carried every exchange before the last one is awaited.
      await stream.until((e) => e.event === 'exchange' && (e.data as { exchange: { seq: number } }).exchange.seq === 6, 'the last VERIFY');
      for (const secret of SECRETS) {
        for (const form of forms(secret)) {
          expect(text, `${secret} as ${form} in the trace`).not.toContain(form);
          expect(stream.text, `${secret} as ${form} in the event stream`).not.toContain(form);
        }
      }
    } finally {
      stream.close();
    }
  });
});
