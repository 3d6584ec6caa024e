/**
 * Checks real responses of the bank's API against docs/openapi/bank.json: `recordResponses`
 * wraps global fetch (which BankClient and the raw helper use) to keep every /v1 answer, and
 * `validateRecorded` finds each one's operation and status in the file and validates its body
 * with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, expect } from 'vitest';

export const OPENAPI_FILE = fileURLToPath(new URL('../../docs/openapi/bank.json', import.meta.url));

export interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  body: string;
}

interface ResponseSpec {
  $ref?: string;
  content?: Record<string, { schema: unknown }>;
}

interface Operation {
  responses: Record<string, ResponseSpec>;
}

export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; responses?: Record<string, ResponseSpec> };
}

export function loadOpenApi(): OpenApiDoc {
  return JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDoc;
}

/** Records every answer fetched from a /v1 URL while the calling test file runs. */
export function recordResponses(): Recorded[] {
  const out: Recorded[] = [];
  const original = globalThis.fetch;
  beforeAll(() => {
    globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const res = await original(input, init);
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      if (url.pathname.startsWith('/v1/')) {
        const body = await res.clone().text();
        out.push({ method: (init?.method ?? 'GET').toLowerCase(), path: url.pathname, status: res.status, contentType: res.headers.get('content-type'), body });
      }
      return res;
    };
  });
  afterAll(() => {
    globalThis.fetch = original;
  });
  return out;
}

const REF_BASE = 'https://ecash.invalid/bank/';

/** OpenAPI's local refs become absolute ids ajv can resolve between separately added schemas. */
function rewriteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/components/schemas/') ? REF_BASE + x.slice('#/components/schemas/'.length) : rewriteRefs(x);
  }
  return out;
}

export function makeAjv(doc: OpenApiDoc): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    ajv.addSchema({ ...(rewriteRefs(schema) as object), $id: REF_BASE + name });
  }
  return ajv;
}

/** `/v1/accounts/{accountId}` → a regex over concrete paths. */
export function templateRegex(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}|\{[^}]+\}/g, '[^/]+')}$`);
}

export function validateRecorded(records: readonly Recorded[]): void {
  expect(records.length, 'no responses were recorded').toBeGreaterThan(0);
  const doc = loadOpenApi();
  const ajv = makeAjv(doc);
  // Literal segments win over templated ones (as fastify routes them).
  const templates = Object.keys(doc.paths)
    .map((t) => ({ t, re: templateRegex(t), literal: t.replace(/\{[^}]+\}/g, '').length }))
    .sort((a, b) => b.literal - a.literal);
  const validators = new Map<string, ValidateFunction>();
  const errorSchema = ajv.getSchema(`${REF_BASE}Error`)!;
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
    let resp = op.responses[String(r.status)] ?? op.responses.default;
    if (resp?.$ref !== undefined) resp = doc.components.responses?.[resp.$ref.replace('#/components/responses/', '')];
    if (resp === undefined) {
      problems.push(`${where}: status not documented for ${r.method.toUpperCase()} ${t.t}`);
      continue;
    }
    const media = resp.content?.['application/json'];
    if (media === undefined) {
      if (r.body !== '') problems.push(`${where}: documented without a body but answered one`);
      continue;
    }
    if (!(r.contentType ?? '').startsWith('application/json')) problems.push(`${where}: content type ${r.contentType}`);
    const key = `${r.method} ${t.t} ${r.status in op.responses ? r.status : 'default'}`;
    let validate = validators.get(key);
    if (validate === undefined) {
      validate = ajv.compile(rewriteRefs(media.schema) as object);
      validators.set(key, validate);
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
}
