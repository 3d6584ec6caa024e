/**
 * TCP_QUICKACK for a Node socket. vpcd sends each message as two writes (length, then body); with
 * Nagle on its side, the body waits for our ACK of the length, and Linux delays that ACK by up to
 * 40 ms once it sees an interactive exchange. Node has no TCP_QUICKACK option, so this calls
 * setsockopt(2) through koffi (an optional dependency with prebuilt binaries in its npm
 * packages). Linux clears the flag whenever it re-enters delayed-ACK mode, so callers re-arm it
 * after every read and every write. Measurements and alternatives: docs/card.md.
 */
import type { Socket } from 'node:net';

const IPPROTO_TCP = 6;
const TCP_QUICKACK = 12;

export type QuickAck = (socket: Socket) => void;

export interface QuickAckLoad {
  arm: QuickAck | undefined;
  /** Why it is unavailable (koffi missing, not Linux, no libc). */
  reason: string | undefined;
}

/** The socket's file descriptor: libuv keeps it on the handle (`fd`, -1 on platforms without one). */
function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

let loaded: Promise<QuickAckLoad> | undefined;

export function loadQuickAck(): Promise<QuickAckLoad> {
  loaded ??= (async (): Promise<QuickAckLoad> => {
    if (process.platform !== 'linux') return { arm: undefined, reason: 'TCP_QUICKACK exists only on Linux' };
    let load: typeof import('koffi')['load'];
    try {
      ({ load } = await import('koffi'));
    } catch {
      return { arm: undefined, reason: 'the optional npm package koffi is not installed (npm install koffi)' };
    }
    try {
      const libc = load('libc.so.6');
      const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)') as (
        fd: number,
        level: number,
        name: number,
        value: Buffer,
        length: number,
      ) => number;
      const one = Buffer.alloc(4);
      one.writeInt32LE(1);
      return {
        arm: (socket) => {
          const fd = socketFd(socket);
          if (fd !== undefined) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, one, 4);
        },
        reason: undefined,
      };
    } catch (e) {
      return { arm: undefined, reason: `cannot call setsockopt through koffi: ${e instanceof Error ? e.message : String(e)}` };
    }
  })();
  return loaded;
}
