/**
 * A server-sent event stream read as it arrives (a real streaming fetch): its events in order, a
 * bounded wait for one that matches, and the raw text (to search it for what must never be there).
 */
export interface StreamedEvent {
  event: string;
  data: unknown;
}

export class EventStreamReader {
  readonly events: StreamedEvent[] = [];
  text = '';
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private ended: Error | undefined;
  status = 0;
  contentType: string | null = null;

  static async open(url: string, headers: Record<string, string>): Promise<EventStreamReader> {
    const s = new EventStreamReader();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: s.abort.signal });
    s.status = res.status;
    s.contentType = res.headers.get('content-type');
    if (res.body !== null && res.status === 200) void s.read(res.body.getReader());
    else await res.body?.cancel();
    return s;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value, { stream: true });
        this.text += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) this.events.push({ event, data: JSON.parse(data) as unknown });
        }
        this.wake();
      }
      this.ended = new Error('the event stream ended');
    } catch (e) {
      this.ended = e instanceof Error ? e : new Error(String(e));
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first event (from `from` on) that matches, waiting at most `timeoutMs` for it. */
  async until(match: (e: StreamedEvent) => boolean, what: string, from = 0, timeoutMs = 20_000): Promise<StreamedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.ended !== undefined)
        throw new Error(`no ${what} before the stream ended (${this.ended.message}): ${this.text.slice(-2000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} in the stream within ${timeoutMs} ms: ${this.text.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server has ended the stream, waiting at most `timeoutMs`. */
  async untilEnded(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ended === undefined) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the event stream did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.abort.abort();
  }
}
