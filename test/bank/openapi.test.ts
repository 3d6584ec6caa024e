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
import { OpenApiFile, registeredRoutes } from '../helpers/openapi.js';

describe('docs/openapi/bank.json', () => {
  let dir: string;
  let storage: BankStorage;
  let service: BankService;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-openapi-'));
    storage = await openStorage(join(dir, 'bank.db'));
    const G = getGroup('ristretto255-sha512');
    service = await BankService.create({ storage, keys: memoryKeyStore(G.suite, [bankKey(G, seededRandom('openapi'))]), workerThreads: 0 });
  });
  afterAll(async () => {
    await service?.close();
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents exactly the routes the server registers', async () => {
    const app = buildBankApp(service);
    const registered = await registeredRoutes(app);
    await app.close();
    expect(registered.length).toBeGreaterThan(10);
    expect(registered).toEqual(new OpenApiFile('bank').operations());
  });

  it('is OpenAPI 3.1 whose schemas compile and whose refs resolve', () => {
    new OpenApiFile('bank').checkStructure();
  });
});
