/**
 * Browser sessions for the POS API. A browser's EventSource cannot send an Authorization header,
 * so a page (the terminal display, a browser cash register on the terminal's own origin) trades
 * the API key once for a session cookie: HttpOnly (no script reads it), SameSite=Strict and
 * honoured only for requests from the terminal's own origin, so another page cannot ride on it.
 * Sessions live in memory: a restart logs pages out, which is what a restart should do.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'ecash_pos_session';
const SESSION_MS = 12 * 3600 * 1000;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class BrowserSessions {
  /** SHA-256 of each live session's token → its expiry. */
  private readonly live = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new session: the Set-Cookie header value that carries it. */
  open(): string {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    this.live.set(digest(token), this.now() + SESSION_MS);
    return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MS / 1000}`;
  }

  /** Ends the session a Cookie header carries; the Set-Cookie value that clears it. */
  close(cookieHeader: string | undefined): string {
    const token = sessionToken(cookieHeader);
    if (token !== undefined) this.live.delete(digest(token));
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /**
   * Whether a request carries a live session and comes from `ownOrigin` (or from no page at all):
   * a cookie sent along with another site's request proves nothing.
   */
  admits(cookieHeader: string | undefined, origin: string | undefined, ownOrigin: string): boolean {
    if (origin !== undefined && origin !== ownOrigin) return false;
    const token = sessionToken(cookieHeader);
    if (token === undefined) return false;
    const until = this.live.get(digest(token));
    return until !== undefined && until > this.now();
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, until] of this.live) if (until <= now) this.live.delete(k);
  }
}

function sessionToken(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === SESSION_COOKIE && value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value)) return value;
  }
  return undefined;
}
