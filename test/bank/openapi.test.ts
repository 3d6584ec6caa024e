/**
 * docs/openapi/bank.json and the bank's routes are the same set: every route fastify registers is
 * documented and every documented operation exists. The file itself is a valid set of JSON
 * Schema 2020-12 schemas with every $ref resolving. (Responses are validated against it by
 * api.test.ts and bad-input.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGroup, seededRandom } from '../../core/index.js';
import { buildBankApp } from '../../host/bank/http.js';
import { memoryKeyStore } from '../../host/bank/keyfile.js';
import { BankService } from '../../host/bank/service.js';
import { type BankStorage, openStorage } from '../../host/bank/storage/index.js';
import { bankKey } from '../core/fixtures.js';
import { loadOpenApi, makeAjv } from './openapi-check.js';

describe('docs/openapi/bank.json', () => {
  let dir: string;
  let storage: BankStorage;
  let service: BankService;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-openapi-'));
    storage = await openStorage(join(dir, 'bank.db'));
    const G = getGroup('ristretto255-sha512');
    service = await BankService.create({ storage, keys: memoryKeyStore(G.suite, [bankKey(G, seededRandom('openapi'))]), verifyThreads: 0 });
  });
  afterAll(async () => {
    await service?.close();
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents exactly the routes the server registers', async () => {
    const app = buildBankApp(service);
    const registered = new Set<string>();
    // The routes are added when the app's plugins load (at ready), after this hook exists.
    app.addHook('onRoute', (route) => {
      for (const m of [route.method].flat()) {
        // HEAD is fastify's automatic twin of every GET.
        if (m !== 'HEAD') registered.add(`${m.toLowerCase()} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
      }
    });
    await app.ready();
    await app.close();
    const doc = loadOpenApi();
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    expect(registered.size).toBeGreaterThan(10);
    expect([...registered].sort()).toEqual([...documented].sort());
  });

  it('is OpenAPI 3.1 whose schemas compile and whose refs resolve', () => {
    const doc = loadOpenApi();
    expect(doc.openapi).toMatch(/^3\.1\./);
    const ajv = makeAjv(doc);
    for (const name of Object.keys(doc.components.schemas)) expect(ajv.getSchema(`https://ecash.invalid/bank/${name}`), name).toBeDefined();
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/(schemas|responses)\/([A-Za-z0-9]+)"/g)) {
      const section = (doc.components as unknown as Record<string, Record<string, unknown>>)[m[1]!]!;
      expect(section[m[2]!], m[0]).toBeDefined();
    }
  });
});
