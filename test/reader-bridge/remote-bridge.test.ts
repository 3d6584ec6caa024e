import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { fromHex, isEcashError } from '../../core/index.js';
import {
  ApduClient,
  RemoteTransport,
  ReplayTransport,
  startBridgeServer,
  type BridgeServer,
  type Cassette,
  type ReaderEvent,
} from '../../reader-bridge/index.js';
import { parseReply } from '../../reader-bridge/remote-protocol.js';

const TOKEN = 'test-token-0123456789abcdef';
const cassette: Cassette = {
  version: 1,
  reader: 'Remote Reader 0',
  atr: '3b80800101',
  protocol: 'T=1',
  exchanges: [
    { command: '8030000000', response: '00'.repeat(256) + '6102' },
    { command: '00c0000002', response: '01029000' },
    { command: '00200080 [redacted]', response: '63c2' },
  ],
};

let server: BridgeServer | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await server?.close();
  server = undefined;
});

const logged: string[] = [];

async function serve(port = 0): Promise<{ server: BridgeServer; source: ReplayTransport }> {
  const source = new ReplayTransport(cassette);
  server = await startBridgeServer({ source, token: TOKEN, port, log: (line) => logged.push(line) });
  return { server, source };
}

function remote(url: string, token = TOKEN): RemoteTransport {
  const t = new RemoteTransport({ url, token, retryIntervalMs: 50 });
  cleanups.push(() => t.close());
  return t;
}

function rawClient(url: string): Promise<{ ask: (frame: string) => Promise<unknown>; ws: WebSocket }> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  cleanups.push(async () => ws.close());
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        ask: (frame) =>
          new Promise((r) => {
            ws.once('message', (data) => r(JSON.parse(data.toString())));
            ws.send(frame);
          }),
      }),
    );
  });
}

describe('remote reader bridge', () => {
  it('binds to loopback by default and insists on a real token', async () => {
    const { server } = await serve();
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1$/);
    await expect(startBridgeServer({ source: new ReplayTransport(cassette), token: 'short' })).rejects.toSatisfy((e) =>
      isEcashError(e, 'bridge-unauthorized'),
    );
  });

  it('refuses a client without the right token, and a wrong path', async () => {
    const { server } = await serve();
    const wrong = 'wrong-token-0123456789abcdef';
    await expect(remote(server.url, wrong).listReaders()).rejects.toSatisfy((e) => isEcashError(e, 'bridge-unauthorized'));
    await expect(remote(server.url.replace('/v1', '/v0')).listReaders()).rejects.toSatisfy((e) => isEcashError(e, 'transport-failure'));
    await remote(server.url).listReaders();
    expect(logged.some((l) => l.includes('refused'))).toBe(true);
    for (const line of logged) {
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain(wrong);
    }
  });

  it('lists the readers and carries APDUs, GET RESPONSE and card errors across', async () => {
    const { server, source } = await serve();
    const transport = remote(server.url);
    expect(await transport.listReaders()).toEqual([{ name: 'Remote Reader 0', transport: 'remote', cardPresent: true }]);
    const channel = await transport.connect('Remote Reader 0');
    expect(channel.protocol).toBe('T=1');
    expect(Array.from(channel.atr)).toEqual([0x3b, 0x80, 0x80, 0x01, 0x01]);
    const client = new ApduClient(channel);
    const balance = await client.sendBytes(fromHex('8030000000'));
    expect(balance.data.length).toBe(258);
    expect(balance.sw).toBe(0x9000);
    expect((await client.sendBytes(fromHex('0020008004' + '39393939'))).sw).toBe(0x63c2);
    // the replayed card has nothing more to say: its error code crosses the bridge unchanged
    await expect(client.sendBytes(fromHex('8030000000'))).rejects.toSatisfy((e) => isEcashError(e, 'replay-mismatch'));
    expect(source.remaining).toBe(0);
    await expect(transport.connect('No Such Reader')).rejects.toSatisfy((e) => isEcashError(e, 'no-reader'));
  });

  it('answers malformed frames with bridge-protocol and unknown channels with channel-closed', async () => {
    const { server } = await serve();
    const { ask } = await rawClient(server.url);
    expect(await ask('not json')).toMatchObject({ id: 0, error: { code: 'bridge-protocol' } });
    expect(await ask(JSON.stringify({ id: 3, op: 'erase' }))).toMatchObject({ id: 3, error: { code: 'bridge-protocol' } });
    // Fuzz counterexample: an id beyond u32 was echoed, and the client's parser refuses such a reply.
    const tooBig = (await ask(JSON.stringify({ id: 2 ** 53, op: 'list' }))) as object;
    expect(tooBig).toMatchObject({ id: 0, error: { code: 'bridge-protocol' } });
    expect(parseReply(JSON.stringify(tooBig))).toMatchObject({ id: 0 });
    expect(await ask(JSON.stringify({ id: 4, op: 'transmit', channel: 1, apdu: 'XYZ', timeoutMs: 10 }))).toMatchObject({
      id: 4,
      error: { code: 'bridge-protocol' },
    });
    expect(await ask(JSON.stringify({ id: 5, op: 'transmit', channel: 99, apdu: '8030000000', timeoutMs: 10 }))).toMatchObject({
      id: 5,
      error: { code: 'channel-closed' },
    });
    expect(await ask(JSON.stringify({ id: 6, op: 'list' }))).toMatchObject({ id: 6, result: { readers: [{ name: 'Remote Reader 0' }] } });
  });

  it('reports the readers gone when the bridge goes away, and fails channels with transport-failure', async () => {
    const { server } = await serve();
    const transport = remote(server.url);
    const events: ReaderEvent[] = [];
    expect(await transport.listReaders()).toHaveLength(1);
    const removed = new Promise<void>((resolve) =>
      transport.watch((e) => {
        events.push(e);
        if (e.type === 'reader-removed') resolve();
      }),
    );
    const channel = await transport.connect('Remote Reader 0');
    await server.close();
    await removed;
    expect(events.map((e) => [e.type, e.reader.name])).toEqual([['reader-removed', 'Remote Reader 0']]);
    await expect(channel.transmit(fromHex('8030000000'), { timeoutMs: 1000 })).rejects.toSatisfy((e) =>
      isEcashError(e, 'transport-failure'),
    );
    await expect(channel.reconnect()).rejects.toSatisfy((e) => isEcashError(e, 'transport-failure'));
  });

  it('reconnects a channel once the bridge is back, and announces its readers again', async () => {
    const first = await serve();
    const port = first.server.port;
    const transport = remote(first.server.url);
    expect(await transport.listReaders()).toHaveLength(1);
    const events: ReaderEvent[] = [];
    transport.watch((e) => events.push(e));
    const channel = await transport.connect('Remote Reader 0');
    const client = new ApduClient(channel);
    expect((await client.sendBytes(fromHex('8030000000'))).data.length).toBe(258);
    await first.server.close();
    await expect(client.sendBytes(fromHex('0020008004' + '39393939'))).rejects.toSatisfy((e) => isEcashError(e, 'transport-failure'));

    await serve(port); // the same address again, with a fresh card behind it
    await channel.reconnect();
    expect((await client.sendBytes(fromHex('8030000000'))).data.length).toBe(258);
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual(['reader-removed', 'reader-added']), { timeout: 5_000 });
  });
});
