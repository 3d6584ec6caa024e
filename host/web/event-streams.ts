/**
 * Server-sent event streams of an API (the terminal's, the simulator's). A stream stays open until
 * its client goes or the server ends it, so an API that closes must end its streams itself:
 * otherwise closing (SIGTERM to `ecash pos serve` or `ecash sim serve`) waits for every display and
 * panel left open in a browser.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';

export interface EventStream {
  /** Sends one event (with its `id:` line when given). */
  write(event: string, data: unknown, id?: number): void;
  /** Ends the stream from the server's side. */
  end(): void;
  /** Runs once the stream is over, whoever ended it. */
  onClose(done: () => void): void;
}

export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  /** Ends every open stream when `app` starts to close. */
  constructor(app: FastifyInstance) {
    app.addHook('preClose', async () => {
      for (const res of this.open) res.end();
    });
  }

  /** Turns a request into a stream, with a keep-alive comment every 15 s while it is open. */
  start(reply: FastifyReply): EventStream {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.open.add(res);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    // 'close' comes once the response is over: the client went, or end() was flushed.
    res.on('close', () => {
      clearInterval(heartbeat);
      this.open.delete(res);
    });
    return {
      write: (event, data, id) => res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
      end: () => res.end(),
      onClose: (done) => res.on('close', done),
    };
  }
}
