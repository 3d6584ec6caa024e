/**
 * Random HTTP requests built from a route table, for the bank's and the POS terminal's APIs, and
 * the check every answer must pass (no 5xx; a refusal is `{ error: { code, message } }` with a
 * kebab-case code and nothing that looks like a stack).
 */
import { expect } from 'vitest';
import fc from 'fast-check';

export interface RouteSeed {
  method: 'GET' | 'POST' | 'DELETE';
  /** With `:name` parameters, filled from `params`. */
  path: string;
  params?: Record<string, string[]>;
  queries?: string[];
  /** Valid bodies (mutated by the fuzzer). */
  bodies?: unknown[];
}

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const pathParam = (valid: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...valid) },
    fc.string({ maxLength: 70 }).map(encodeURIComponent),
    fc.constantFrom('..', '%00', '%ff', 'a'.repeat(300)),
  );

/** One request: a route with random parts, or a method/path that is no route. */
export function fuzzRequest(
  seeds: RouteSeed[],
  tokens: string[],
  mutatedJson: (valid: readonly unknown[]) => fc.Arbitrary<unknown>,
): fc.Arbitrary<FuzzRequest> {
  const auth = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...tokens).map((t) => `Bearer ${t}`) },
    fc.constantFrom(...tokens).map((t) => `Bearer ${t.slice(0, -2)}xx`),
    fc.constantFrom('Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer ecash.0.0', 'bearer x'),
    fc.string({ maxLength: 60 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  );
  const contentType = fc.oneof(
    { weight: 5, arbitrary: fc.constant('application/json') },
    fc.constantFrom(
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      'multipart/form-data',
      'application/JSON',
    ),
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom('accept', 'content-encoding', 'x-forwarded-for', 'idempotency-key', 'accept-encoding', 'x-request-id'),
    fc.oneof(
      fc.constantFrom('gzip', '*/*', '1.2.3.4', 'application/xml'),
      fc.string({ maxLength: 30 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    ),
    { maxKeys: 2 },
  );
  const onRoute = fc.constantFrom(...seeds).chain((seed) => {
    const names = [...seed.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);
    const params = fc.tuple(...names.map((n) => pathParam(seed.params?.[n] ?? ['x'])));
    const query = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...(seed.queries ?? [''])) },
      fc.string({ maxLength: 30 }).map((q) => `?${q}`),
      fc.constantFrom('?limit=-1', '?limit=1e3', '?before=abc', '?after=99999999999999999999', '?a=1&a=2'),
    );
    const body = fc.oneof(
      { weight: 5, arbitrary: mutatedJson(seed.bodies ?? [{}]).map((v) => JSON.stringify(v) ?? '') },
      { weight: 1, arbitrary: fc.constantFrom(...(seed.bodies ?? [{}])).map((v) => JSON.stringify(v)) },
      fc.string({ maxLength: 200 }),
      fc.constant(undefined),
    );
    const method = fc.oneof(
      { weight: 9, arbitrary: fc.constant(seed.method) },
      fc.constantFrom('GET' as const, 'POST' as const, 'DELETE' as const, 'PUT' as const, 'PATCH' as const),
    );
    return fc.record({ method, params, query, body, auth: fc.option(auth, { freq: 5 }), contentType, extraHeaders }).map((r) => {
      let i = 0;
      const path = seed.path.replace(/:[a-zA-Z]+/g, () => r.params[i++]!);
      const headers: Record<string, string> = { ...r.extraHeaders };
      if (r.auth !== null) headers.authorization = r.auth;
      if (r.body !== undefined) headers['content-type'] = r.contentType;
      return { method: r.method, url: path + r.query, headers, ...(r.body === undefined ? {} : { payload: r.body }) };
    });
  });
  const offRoute = fc.record({
    method: fc.constantFrom('GET' as const, 'POST' as const, 'DELETE' as const),
    url: fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => `/${encodeURIComponent(s)}`),
      fc.constantFrom('/', '/v1', '/v1/', '/v2/health', '/v1/accounts/'),
    ),
    headers: fc.constant({}),
  });
  return fc.oneof({ weight: 9, arbitrary: onRoute }, { weight: 1, arbitrary: offRoute });
}

/** An answer any client can rely on: a 2xx/3xx/4xx, and a refusal that says its code. */
export function checkHttpAnswer(what: string, status: number, body: string): void {
  expect(status, `${what} answered ${status}: ${body.slice(0, 300)}`).toBeLessThan(500);
  if (status < 400) return;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  expect(
    typeof error?.code === 'string' && KEBAB.test(error.code) && typeof error.message === 'string',
    `${what} refused (${status}) without a stable code: ${body.slice(0, 300)}`,
  ).toBe(true);
  expect(body, `${what}: a refusal shows a stack`).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
}
