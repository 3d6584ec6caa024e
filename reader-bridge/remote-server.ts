/**
 * `ecash bridge serve`: the local readers over a WebSocket, so that a POS on another machine can
 * use them through the remote transport. Binds to loopback unless told otherwise, and admits a
 * client only with the bridge token (compared in constant time, never logged). A client's
 * channels end with its connection, so a vanished POS cannot keep a reader locked.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { EcashError, toHex } from '../core/index.js';
import { bridgeError, BRIDGE_ERROR } from './errors.js';
import type { ReaderSource } from './reader-set.js';
import {
  BRIDGE_MAX_FRAME,
  BRIDGE_PATH,
  errorReply,
  parseRequest,
  toWireEvent,
  type BridgeReply,
  type BridgeRequest,
} from './remote-protocol.js';
import type { CardChannel } from './transport.js';

export const DEFAULT_BRIDGE_HOST = '127.0.0.1';
export const MIN_TOKEN_LENGTH = 16;
const HEARTBEAT_MS = 15_000;

export interface BridgeServerOptions {
  source: ReaderSource;
  token: string;
  /** Default loopback; anything else exposes the readers to the network (use TLS in front). */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Connection notices (never a token, never APDU bytes). */
  log?: (line: string) => void;
}

export interface BridgeServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function checkBridgeToken(token: string): void {
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw bridgeError(
      BRIDGE_ERROR.BRIDGE_UNAUTHORIZED,
      `the bridge token must be at least ${MIN_TOKEN_LENGTH} characters without spaces (for example: openssl rand -hex 24)`,
    );
  }
}

/** Constant-time comparison (of digests, so the lengths match too). */
function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export async function startBridgeServer(options: BridgeServerOptions): Promise<BridgeServer> {
  checkBridgeToken(options.token);
  const log = options.log ?? (() => undefined);
  const host = options.host ?? DEFAULT_BRIDGE_HOST;
  const sessions = new Set<ClientSession>();
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end(`an e-cash reader bridge: open a WebSocket on ${BRIDGE_PATH}\n`);
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: BRIDGE_MAX_FRAME });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const peer = req.socket.remoteAddress ?? 'unknown';
    if (new URL(req.url ?? '/', 'http://bridge').pathname !== BRIDGE_PATH) return refuse(socket, 404, 'Not Found');
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (bearer === null || !tokenMatches(bearer[1]!, options.token)) {
      log(`bridge: refused ${peer}: missing or wrong token`);
      return refuse(socket, 401, 'Unauthorized');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new ClientSession(ws, options.source);
      sessions.add(session);
      log(`bridge: client ${peer} connected`);
      ws.on('close', () => {
        sessions.delete(session);
        void session.end();
        log(`bridge: client ${peer} left`);
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `ws://${urlHost}:${port}${BRIDGE_PATH}`,
    port,
    async close() {
      for (const s of sessions) s.terminate();
      await Promise.all([...sessions].map((s) => s.end()));
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

class ClientSession {
  private readonly channels = new Map<number, CardChannel>();
  private nextChannel = 1;
  private stopWatching: (() => void) | undefined;
  private alive = true;
  private readonly heartbeat: NodeJS.Timeout;
  private ended: Promise<void> | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly source: ReaderSource,
  ) {
    ws.on('message', (data: RawData, isBinary: boolean) => void this.onFrame(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', () => undefined);
    // A POS that vanished without closing must not keep a reader locked.
    this.heartbeat = setInterval(() => {
      if (!this.alive) return this.terminate();
      this.alive = false;
      ws.ping();
    }, HEARTBEAT_MS);
  }

  private send(reply: BridgeReply): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(reply));
  }

  private async onFrame(data: RawData, isBinary: boolean): Promise<void> {
    const frame = isBinary ? undefined : data.toString();
    let request: BridgeRequest;
    try {
      if (frame === undefined) throw bridgeError(BRIDGE_ERROR.BRIDGE_PROTOCOL, 'malformed bridge message: frames are JSON text');
      request = parseRequest(frame);
    } catch (e) {
      this.send(errorReply(idOf(frame), e));
      return;
    }
    try {
      this.send({ id: request.id, result: await this.serve(request) });
    } catch (e) {
      this.send(errorReply(request.id, e));
    }
  }

  private channel(id: number): CardChannel {
    const channel = this.channels.get(id);
    if (channel === undefined)
      throw new EcashError(BRIDGE_ERROR.CHANNEL_CLOSED, `no open channel ${id} on this bridge connection: connect first`);
    return channel;
  }

  private async serve(request: BridgeRequest): Promise<Record<string, unknown>> {
    switch (request.op) {
      case 'list':
        return { readers: await this.source.listReaders() };
      case 'watch':
        this.stopWatching ??= this.source.watch((event) => this.send({ event: toWireEvent(event) }));
        return {};
      case 'connect': {
        const channel = await this.source.connect(request.reader, { share: request.share, protocols: request.protocols });
        const id = this.nextChannel++;
        this.channels.set(id, channel);
        return { channel: id, atr: toHex(channel.atr), protocol: channel.protocol };
      }
      case 'transmit': {
        const response = await this.channel(request.channel).transmit(request.apdu, { timeoutMs: request.timeoutMs });
        return { response: toHex(response) };
      }
      case 'reconnect': {
        const channel = this.channel(request.channel);
        await channel.reconnect();
        return { channel: request.channel, atr: toHex(channel.atr), protocol: channel.protocol };
      }
      case 'disconnect': {
        const channel = this.channels.get(request.channel);
        this.channels.delete(request.channel);
        await channel?.disconnect(request.disposition);
        return {};
      }
    }
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Ends the client's channels and subscription (once). */
  end(): Promise<void> {
    this.ended ??= (async () => {
      clearInterval(this.heartbeat);
      this.stopWatching?.();
      const channels = [...this.channels.values()];
      this.channels.clear();
      await Promise.all(channels.map((c) => c.disconnect().catch(() => undefined)));
    })();
    return this.ended;
  }
}

/** The id of a frame that failed validation, when it has a usable one, so the client can match the error. */
function idOf(frame: string | undefined): number {
  try {
    const id: unknown = JSON.parse(frame ?? '').id;
    // Echoed only when the client's parser would take it (docs/bridge.md: 0 when there is none).
    return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffffffff ? id : 0;
  } catch {
    return 0;
  }
}
