/**
 * Checks real HTTP answers against the OpenAPI files in docs/openapi (bank.json, pos.json):
 * `recordResponses` wraps global fetch to keep every /v1 answer a test file receives, and
 * `OpenApiFile.validateRecorded` finds each one's operation and status in the file and validates
 * its body with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses). `registeredRoutes` lists what a
 * fastify app really serves, to compare with `OpenApiFile.operations`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, expect } from 'vitest';

export interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  /** The body text; empty for event streams, which stay with the caller (their events are checked one by one). */
  body: string;
}

interface ResponseSpec {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}

interface Operation {
  responses: Record<string, ResponseSpec>;
}

export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; responses?: Record<string, ResponseSpec> };
}

const EVENT_STREAM = 'text/event-stream';

/**
 * Passes one exchange through to the client's handler (undici hands interceptors its new-style
 * handlers) and keeps the answer's status, content type and body.
 */
class RecordingHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private contentType: string | null = null;
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly request: { method: string; path: string },
    private readonly out: Recorded[],
  ) {}

  private get streaming(): boolean {
    return (this.contentType ?? '').startsWith(EVENT_STREAM);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.status = statusCode;
    const type = headers['content-type'];
    this.contentType = (Array.isArray(type) ? type[0] : type) ?? null;
    // An event stream stays with the caller (its events are checked one by one): recorded at once.
    if (this.streaming) this.record('');
    this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.streaming) this.chunks.push(chunk);
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (!this.streaming) this.record(Buffer.concat(this.chunks).toString('utf8'));
    this.handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.handler.onResponseError?.(controller, error);
  }

  private record(body: string): void {
    this.out.push({ method: this.request.method, path: this.request.path, status: this.status, contentType: this.contentType, body });
  }
}

/**
 * Records every answer to a /v1 URL while the calling test file runs, whoever asked (BankClient
 * through undici, the tests' own fetch: both go through undici's global dispatcher); `keep`
 * narrows it (a test that talks to two APIs records the one it checks).
 */
export function recordResponses(keep: (url: URL) => boolean = () => true): Recorded[] {
  const out: Recorded[] = [];
  let previous: Dispatcher | undefined;
  beforeAll(() => {
    previous = getGlobalDispatcher();
    setGlobalDispatcher(
      previous.compose((dispatch) => (opts, handler) => {
        const url = new URL(opts.path, opts.origin);
        if (!url.pathname.startsWith('/v1/') || !keep(url)) return dispatch(opts, handler);
        return dispatch(opts, new RecordingHandler(handler, { method: (opts.method ?? 'GET').toLowerCase(), path: url.pathname }, out));
      }),
    );
  });
  afterAll(() => {
    if (previous !== undefined) setGlobalDispatcher(previous);
  });
  return out;
}

/** `/v1/accounts/{accountId}` → a regex over concrete paths. */
export function templateRegex(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}|\{[^}]+\}/g, '[^/]+')}$`);
}

/**
 * Every route the app serves as `method /path/{param}` (HEAD, fastify's automatic twin of every
 * GET, left out), read from fastify's own route tree once the app is ready, so routes registered
 * directly and in plugins are both seen.
 */
export async function registeredRoutes(app: FastifyInstance): Promise<string[]> {
  await app.ready();
  const registered = new Set<string>();
  // One node a line, four columns of tree drawing per level: `│   └── /:id/events (GET, HEAD)`.
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│├└─ ]*)(\S+?)(?: \(([A-Z, -]+)\))?$/.exec(line);
    if (m === null || line.trim() === '') continue;
    const depth = m[1]!.length / 4;
    const path = (prefixes[depth - 1] ?? '') + m[2]!;
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    // The API is /v1; the screens served beside it (/display/, /console/) are pages, not operations.
    if (!path.startsWith('/v1')) continue;
    for (const method of (m[3] ?? '').split(', ')) {
      if (method !== '' && method !== '-' && method !== 'HEAD')
        registered.add(`${method.toLowerCase()} ${path.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    }
  }
  return [...registered].sort();
}

/** One of the files in docs/openapi, by name (`bank`, `pos`). */
export class OpenApiFile {
  readonly path: string;
  readonly doc: OpenApiDoc;
  /** OpenAPI's local refs become absolute ids under this base, which ajv resolves between separately added schemas. */
  readonly refBase: string;
  readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly name: string) {
    this.path = fileURLToPath(new URL(`../../docs/openapi/${name}.json`, import.meta.url));
    this.doc = JSON.parse(readFileSync(this.path, 'utf8')) as OpenApiDoc;
    this.refBase = `https://ecash.invalid/${name}/`;
    this.ajv = new Ajv2020({ strict: true, allErrors: true });
    for (const [schemaName, schema] of Object.entries(this.doc.components.schemas)) {
      this.ajv.addSchema({ ...(this.rewriteRefs(schema) as object), $id: this.refBase + schemaName });
    }
  }

  private rewriteRefs(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.rewriteRefs(x));
    if (typeof v !== 'object' || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] =
        k === '$ref' && typeof x === 'string' && x.startsWith('#/components/schemas/')
          ? this.refBase + x.slice('#/components/schemas/'.length)
          : this.rewriteRefs(x);
    }
    return out;
  }

  /** The compiled validator of a named component schema. */
  schema(name: string): ValidateFunction {
    const v = this.ajv.getSchema(this.refBase + name);
    if (v === undefined) throw new Error(`no schema ${name} in ${this.path}`);
    return v;
  }

  /** Asserts `value` matches the named component schema. */
  expectSchema(name: string, value: unknown): void {
    const v = this.schema(name);
    expect(v(value) ? [] : [`${name}: ${this.ajv.errorsText(v.errors)} in ${JSON.stringify(value).slice(0, 300)}`]).toEqual([]);
  }

  /** Every documented operation as `method /path/{param}`. */
  operations(): string[] {
    return Object.entries(this.doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
      .sort();
  }

  /** The file is OpenAPI 3.1, every component schema compiles and every local $ref resolves. */
  checkStructure(): void {
    expect(this.doc.openapi).toMatch(/^3\.1\./);
    for (const schemaName of Object.keys(this.doc.components.schemas))
      expect(this.ajv.getSchema(this.refBase + schemaName), schemaName).toBeDefined();
    const text = JSON.stringify(this.doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/(schemas|responses)\/([A-Za-z0-9]+)"/g)) {
      const section = (this.doc.components as unknown as Record<string, Record<string, unknown> | undefined>)[m[1]!];
      expect(section?.[m[2]!], m[0]).toBeDefined();
    }
  }

  /** Validates every recorded answer against its operation and status in the file. */
  /** Validates every recorded answer; returns the operations (`method path`) they covered. */
  validateRecorded(records: readonly Recorded[]): string[] {
    expect(records.length, 'no responses were recorded').toBeGreaterThan(0);
    const covered = new Set<string>();
    const { doc, ajv } = this;
    // Literal segments win over templated ones (as fastify routes them).
    const templates = Object.keys(doc.paths)
      .map((t) => ({ t, re: templateRegex(t), literal: t.replace(/\{[^}]+\}/g, '').length }))
      .sort((a, b) => b.literal - a.literal);
    const errorSchema = this.schema('Error');
    const problems: string[] = [];
    for (const r of records) {
      const t = templates.find((x) => x.re.test(r.path));
      const where = `${r.method.toUpperCase()} ${r.path} → ${r.status}`;
      const op = t === undefined ? undefined : doc.paths[t.t]![r.method];
      if (t === undefined || op === undefined) {
        // An undocumented path or method must answer the not-found error.
        if (r.status !== 404) problems.push(`${where}: no such operation in the OpenAPI file`);
        else if (!errorSchema(JSON.parse(r.body))) problems.push(`${where}: ${ajv.errorsText(errorSchema.errors)}`);
        continue;
      }
      covered.add(`${r.method} ${t.t}`);
      let resp = op.responses[String(r.status)] ?? op.responses.default;
      if (resp?.$ref !== undefined) resp = doc.components.responses?.[resp.$ref.replace('#/components/responses/', '')];
      if (resp === undefined) {
        problems.push(`${where}: status not documented for ${r.method.toUpperCase()} ${t.t}`);
        continue;
      }
      const contentType = r.contentType ?? '';
      if (contentType.startsWith(EVENT_STREAM)) {
        if (resp.content?.[EVENT_STREAM] === undefined) problems.push(`${where}: answered an event stream, documented otherwise`);
        continue;
      }
      const media = resp.content?.['application/json'];
      if (media?.schema === undefined) {
        if (r.body !== '') problems.push(`${where}: documented without a JSON body but answered one`);
        continue;
      }
      if (!contentType.startsWith('application/json')) problems.push(`${where}: content type ${r.contentType}`);
      const key = `${r.method} ${t.t} ${r.status in op.responses ? r.status : 'default'}`;
      let validate = this.validators.get(key);
      if (validate === undefined) {
        validate = ajv.compile(this.rewriteRefs(media.schema) as object);
        this.validators.set(key, validate);
      }
      let body: unknown;
      try {
        body = JSON.parse(r.body);
      } catch {
        problems.push(`${where}: body is not JSON`);
        continue;
      }
      if (!validate(body)) problems.push(`${where}: ${ajv.errorsText(validate.errors)} in ${r.body.slice(0, 300)}`);
    }
    expect(problems).toEqual([]);
    return [...covered].sort();
  }
}
