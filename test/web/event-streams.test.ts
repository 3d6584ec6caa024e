/**
 * An API's event streams end when it closes: a terminal display or simulator panel left open in a
 * browser must not hold `ecash pos serve` or `ecash sim serve` on SIGTERM (closing waited for
 * the browser before host/web/event-streams.ts ended them).
 */
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStreams } from '../../host/web/index.js';
import { EventStreamReader } from '../helpers/sse.js';

describe('EventStreams', () => {
  const readers: EventStreamReader[] = [];
  afterEach(() => {
    for (const r of readers.splice(0)) r.close();
  });

  it('ends every open stream when the API closes, so closing does not wait for the clients', async () => {
    const app = Fastify();
    const streams = new EventStreams(app);
    let closedOnServer = 0;
    app.get('/events', (_req, reply) => {
      const stream = streams.start(reply);
      stream.onClose(() => closedOnServer++);
      stream.write('hello', { n: 1 }, 7);
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      for (let i = 0; i < 2; i++) readers.push(await EventStreamReader.open(`${base}/events`, {}));
      for (const r of readers) {
        expect(r.contentType).toBe('text/event-stream');
        expect((await r.until((e) => e.event === 'hello', 'the hello event')).data).toEqual({ n: 1 });
        expect(r.text).toContain('id: 7\n');
      }
    } finally {
      // Bounded: a close that waited for the clients would hang here until the test's timeout.
      await Promise.race([
        app.close(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('app.close() waited for the open event streams')), 10_000).unref()),
      ]);
    }
    for (const r of readers) await r.untilEnded(10_000);
    expect(closedOnServer).toBe(2);
  });
});
