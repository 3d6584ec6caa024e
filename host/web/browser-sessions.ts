/**
 * Browser sessions for the APIs the screens are served beside (the POS API, the simulator's). A
 * browser's EventSource cannot send an Authorization header, so a page (the terminal display, a
 * browser cash register, the simulator panel, on the API's own origin) trades the API's secret
 * once for a session cookie: HttpOnly (no script reads it), SameSite=Strict and honoured only for
 * requests from the API's own origin, so another page cannot ride on it. Each API names its own
 * cookie: cookies ignore ports, so two APIs on one host must not share a name. Sessions live in
 * memory: a restart logs pages out, which is what a restart should do.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

const SESSION_MS = 12 * 3600 * 1000;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class BrowserSessions {
  /** SHA-256 of each live session's token → its expiry. */
  private readonly live = new Map<string, number>();

  /** `cookie`: the cookie's name, one per API (`ecash_pos_session`). */
  constructor(
    private readonly cookie: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session: the Set-Cookie header value that carries it. */
  open(): string {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    this.live.set(digest(token), this.now() + SESSION_MS);
    return `${this.cookie}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MS / 1000}`;
  }

  /** Ends the session a Cookie header carries; the Set-Cookie value that clears it. */
  close(cookieHeader: string | undefined): string {
    const token = sessionToken(cookieHeader, this.cookie);
    if (token !== undefined) this.live.delete(digest(token));
    return `${this.cookie}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /**
   * Whether a request carries a live session and comes from `ownOrigin`, an origin the API lists
   * for CORS, or no page at all: a cookie sent along with another site's request proves nothing.
   */
  admits(
    cookieHeader: string | undefined,
    origin: string | undefined,
    ownOrigin: string,
    listed: ReadonlySet<string> = new Set(),
  ): boolean {
    if (origin !== undefined && origin !== ownOrigin && !listed.has(origin)) return false;
    const token = sessionToken(cookieHeader, this.cookie);
    if (token === undefined) return false;
    const until = this.live.get(digest(token));
    return until !== undefined && until > this.now();
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, until] of this.live) if (until <= now) this.live.delete(k);
  }
}

function sessionToken(cookieHeader: string | undefined, cookie: string): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === cookie && value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value)) return value;
  }
  return undefined;
}

/**
 * The two session routes an API gives its pages: `POST /v1/session` (the API's own check of its
 * secret runs first, and must not accept a session for it) sets the cookie, `DELETE` ends it.
 */
export function registerSessionRoutes(app: FastifyInstance, sessions: BrowserSessions): void {
  app.post(
    '/v1/session',
    { schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: {} } } },
    async (_req, reply) => reply.code(204).header('set-cookie', sessions.open()).send(),
  );
  app.delete('/v1/session', async (req, reply) => reply.code(204).header('set-cookie', sessions.close(req.headers.cookie)).send());
}
