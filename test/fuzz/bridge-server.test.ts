/**
 * Fuzzing the remote reader bridge over its WebSocket: a bridge server over a virtual reader with
 * a card in it, and one authorised client sending frames — valid requests mutated (connect to the
 * reader, transmit APDUs, reconnect, disconnect, watch), any JSON, any text, binary frames — one
 * at a time. Properties: each frame gets one reply that the client's parser accepts, a refusal
 * with a kebab-case code; and the bridge still serves afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import fc from 'fast-check';
import { createVolatileCard } from '../../firmware-sim/index.js';
import { startBridgeServer, VirtualTransport, type BridgeServer } from '../../reader-bridge/index.js';
import { encodeRequest, parseReply, type BridgeReply } from '../../reader-bridge/remote-protocol.js';
import { countAccepted, fuzz, mutatedBytes, mutatedJson, TARGET_TIMEOUT_MS } from './harness.js';

const FILE = import.meta.url;
const TOKEN = 'fuzz-token-0123456789abcdef';
const READER = 'Fuzz Reader 0';
const REPLY_WAIT_MS = 10_000;

describe('fuzzing the remote bridge server', () => {
  let readers: VirtualTransport;
  let server: BridgeServer;
  let ws: WebSocket;
  const replies: string[] = [];
  let waiting: (() => void) | undefined;

  beforeAll(async () => {
    readers = new VirtualTransport([READER]);
    readers.insertCard(READER, await createVolatileCard({ pin: '1234', puk: '12345678' }));
    server = await startBridgeServer({ source: readers, token: TOKEN });
    ws = new WebSocket(server.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    ws.on('message', (data) => {
      const text = data.toString();
      if ((JSON.parse(text) as { event?: unknown }).event !== undefined) return; // a watch's event, not a reply
      replies.push(text);
      waiting?.();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  });

  afterAll(async () => {
    ws?.close();
    await server?.close();
    await readers?.close();
  });

  /** Sends one frame and waits for its reply (bounded: a bridge that never answers fails here). */
  async function ask(frame: string | Uint8Array): Promise<BridgeReply> {
    const got = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to a frame within ${REPLY_WAIT_MS} ms`)), REPLY_WAIT_MS);
      waiting = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    ws.send(frame, { binary: typeof frame !== 'string' });
    await got;
    waiting = undefined;
    return parseReply(replies.shift()!);
  }

  const select = '00a4040007f045434153480100';
  const valid = [
    encodeRequest({ id: 1, op: 'list' }),
    encodeRequest({ id: 2, op: 'connect', reader: READER, share: 'shared', protocols: ['T=1'] }),
    JSON.stringify({ id: 3, op: 'transmit', channel: 1, apdu: select, timeoutMs: 2000 }),
    JSON.stringify({ id: 4, op: 'transmit', channel: 2, apdu: '8030000000', timeoutMs: 2000 }),
    encodeRequest({ id: 5, op: 'reconnect', channel: 1 }),
    encodeRequest({ id: 6, op: 'disconnect', channel: 1, disposition: 'reset' }),
    encodeRequest({ id: 7, op: 'watch' }),
  ];
  const frame = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...valid) },
    { weight: 5, arbitrary: mutatedJson(valid.map((v) => JSON.parse(v) as unknown)).map((v) => JSON.stringify(v) ?? '') },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
    {
      weight: 1,
      arbitrary: mutatedBytes(
        valid.map((v) => new TextEncoder().encode(v)),
        200,
      ),
    },
  );

  it(
    'random frames: one parseable reply each, refusals with a code, and the bridge still serves',
    async () => {
      await fuzz(
        FILE,
        'remote bridge server',
        fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 8 }), async (frames) => {
          for (const f of frames) {
            const reply = await ask(f);
            if ('result' in reply) countAccepted();
          }
        }),
        60,
      );
      const list = await ask(encodeRequest({ id: 99, op: 'list' }));
      expect('result' in list && Array.isArray(list.result.readers)).toBe(true);
    },
    TARGET_TIMEOUT_MS,
  );
});
