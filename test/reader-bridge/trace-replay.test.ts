import { describe, expect, it } from 'vitest';
import { fromHex, isEcashError } from '../../core/index.js';
import {
  ApduClient,
  ReplayTransport,
  SessionRecorder,
  carriesSecret,
  formatTraceEntry,
  parseCassette,
  redactCommand,
  tracedChannel,
  type Cassette,
  type TraceEntry,
} from '../../reader-bridge/index.js';

const PIN = '31323334'; // "1234"

describe('redaction', () => {
  it('hides the body of VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, PERSONALISE and SET LIMIT', () => {
    expect(redactCommand(fromHex('0020008004' + PIN))).toBe('00200080 [redacted]');
    expect(redactCommand(fromHex('002400800a04' + PIN + '04' + PIN))).toBe('00240080 [redacted]');
    expect(redactCommand(fromHex('002c008006' + '04' + PIN + '00'))).toBe('002c0080 [redacted]');
    expect(redactCommand(fromHex('8010000003010203'))).toBe('80100000 [redacted]');
    expect(redactCommand(fromHex('804800000d04' + PIN + '0000000000000064'))).toBe('80480000 [redacted]');
    // a chained part of PERSONALISE carries secrets just the same
    expect(redactCommand(fromHex('9010000003010203'))).toBe('90100000 [redacted]');
    // even a malformed VERIFY is judged on its header
    expect(redactCommand(fromHex('00200080ff' + PIN))).toBe('00200080 [redacted]');
  });

  it('leaves other commands and a VERIFY without data (a status query) as they are', () => {
    expect(redactCommand(fromHex('00a4040007f045434153480100'))).toBe('00a4040007f045434153480100');
    expect(redactCommand(fromHex('00200080'))).toBe('00200080');
    expect(redactCommand(fromHex('8040000003010203'))).toBe('8040000003010203');
    expect(carriesSecret(fromHex('8020000001ff'))).toBe(false);
  });
});

function cassette(exchanges: Cassette['exchanges']): Cassette {
  return { version: 1, reader: 'Recorded', atr: '3b80800101', protocol: 'T=1', exchanges };
}

describe('tracing and record/replay', () => {
  it('traces time, direction, bytes, status word and duration, with the PIN redacted', async () => {
    const transport = new ReplayTransport(
      cassette([
        { command: '00200080 [redacted]', response: '9000' },
        { command: '8030000000', response: '00016a88' },
      ]),
    );
    const entries: TraceEntry[] = [];
    const channel = tracedChannel(await transport.connect('Recorded'), (e) => entries.push(e));
    const client = new ApduClient(channel);
    await client.sendBytes(fromHex('0020008004' + PIN));
    await client.sendBytes(fromHex('8030000000'));
    expect(entries.map((e) => [e.direction, e.bytes, e.sw])).toEqual([
      ['command', '00200080 [redacted]', undefined],
      ['response', '', '9000'],
      ['command', '8030000000', undefined],
      ['response', '0001', '6A88'],
    ]);
    for (const e of entries) expect(typeof e.time).toBe('number');
    expect(entries[1]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(entries)).not.toContain(PIN);
    expect(formatTraceEntry(entries[3]!)).toMatch(/Recorded << 0001 6A88 \(\d+\.\d\d ms\)$/);
  });

  it('traces a failed exchange with its error code', async () => {
    const transport = new ReplayTransport(cassette([{ command: '8040000000', error: { code: 'card-removed', message: 'the card left' } }]));
    const entries: TraceEntry[] = [];
    const channel = tracedChannel(await transport.connect('Recorded'), (e) => entries.push(e));
    await expect(channel.transmit(fromHex('8040000000'), { timeoutMs: 1000 })).rejects.toSatisfy((e) => isEcashError(e, 'card-removed'));
    expect(entries[1]!.error).toEqual({ code: 'card-removed', message: 'the card left' });
    expect(formatTraceEntry(entries[1]!)).toContain('!! card-removed');
  });

  it('records a session into a cassette without the PIN and replays it, strictly in order', async () => {
    const original = new ReplayTransport(
      cassette([
        { command: '00a4040007f045434153480100', response: '6f009000' },
        { command: '00200080 [redacted]', response: '63c2' },
        { command: '8030000000', response: '009000' },
      ]),
    );
    const recorder = new SessionRecorder();
    const live = tracedChannel(await original.connect('Recorded'), recorder.sink);
    const session = async (c: typeof live) => {
      const client = new ApduClient(c);
      const out = [];
      out.push(await client.sendBytes(fromHex('00a4040007f045434153480100')));
      out.push(await client.sendBytes(fromHex('0020008004' + PIN)));
      out.push(await client.sendBytes(fromHex('8030000000')));
      return out.map((r) => r.sw);
    };
    const firstRun = await session(live);
    const recorded = recorder.cassette(live);
    const json = JSON.stringify(recorded);
    expect(json).not.toContain(PIN);

    const replay = new ReplayTransport(parseCassette(JSON.parse(json)));
    expect(await replay.listReaders()).toEqual([{ name: 'Recorded', transport: 'replay', cardPresent: true }]);
    expect(await session(await replay.connect('Recorded'))).toEqual(firstRun);
    expect(replay.remaining).toBe(0);

    const diverging = new ReplayTransport(recorded);
    const channel = await diverging.connect('Recorded');
    await expect(channel.transmit(fromHex('8030000000'), { timeoutMs: 1000 })).rejects.toSatisfy((e) => isEcashError(e, 'replay-mismatch'));
    await expect(diverging.connect('Other')).rejects.toSatisfy((e) => isEcashError(e, 'no-reader'));
  });

  it('refuses a malformed cassette', () => {
    expect(() => parseCassette({ version: 2 })).toThrow(/version/);
    expect(() => parseCassette({ ...cassette([]), atr: 'zz' })).toThrow();
    expect(() => parseCassette(cassette([{ command: '00', response: '90' }]))).toThrow(/status word/);
    expect(() => parseCassette({ ...cassette([]), exchanges: [{ command: '00' }] })).toThrow(/neither/);
  });
});
