/**
 * BankClient against banks that fail: nothing listening, a server that never answers, one that
 * answers HTML or JSON without an error code (bank-unreachable, bank-protocol, never the token in
 * a message); and the server's answer to its own fault (500 internal, generic, no stack).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BankClient, BankError } from '../../host/bank-client/index.js';
import { raw, startBank } from './http-fixture.js';

const TOKEN = `ecash.0123456789abcdef.${'S'.repeat(43)}`;

async function failure(p: Promise<unknown>): Promise<BankError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BankError);
  expect((e as Error).message).not.toContain('SSSS');
  return e as BankError;
}

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('BankClient', () => {
  it('says bank-unreachable, naming the URL, when nothing listens', async () => {
    const probe = createTcpServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const e = await failure(new BankClient({ baseUrl: `http://127.0.0.1:${port}/`, token: TOKEN }).health());
    expect(e.code).toBe('bank-unreachable');
    expect(e.status).toBe(0);
    expect(e.message).toContain(`http://127.0.0.1:${port}`);
    expect(e.message).toMatch(/running/);
  });

  it('says bank-unreachable after its timeout when the bank does not answer', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((s) => sockets.push(s));
    const port = await listen(silent);
    try {
      const e = await failure(new BankClient({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN, timeoutMs: 200 }).parameters());
      expect(e.code).toBe('bank-unreachable');
      expect(e.message).toContain('200 ms');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('says bank-protocol when the answer is not the API', async () => {
    const answers: [number, string][] = [
      [200, '<html>hello</html>'],
      [502, '<html>bad gateway</html>'],
      [400, '{"message":"no code"}'],
      [200, '"a string"'],
    ];
    let i = 0;
    const server = createHttpServer((_req, res) => {
      const [status, body] = answers[i++]!;
      res.writeHead(status, { 'content-type': 'text/html' }).end(body);
    });
    const port = await listen(server);
    try {
      const client = new BankClient({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN });
      for (const [status] of answers) {
        const e = await failure(client.health());
        expect({ code: e.code, status: e.status }).toEqual({ code: 'bank-protocol', status });
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("carries the bank's code and status, and keeps the token when switching", async () => {
    const bank = await startBank('sqlite');
    try {
      const e = await failure(bank.anon.withToken(TOKEN).account('0'.repeat(24)));
      expect({ code: e.code, status: e.status }).toEqual({ code: 'unauthorized', status: 401 });
      expect(e.message).toMatch(/Authorization: Bearer/);
      // withToken makes a new client with the other token; the original keeps its own.
      await expect(bank.operator.withToken(TOKEN).doubleSpends()).rejects.toMatchObject({ code: 'unauthorized' });
      expect((await bank.operator.doubleSpends()).doubleSpends).toEqual([]);
    } finally {
      await bank.dispose();
    }
  });
});

describe('the bank server on its own fault', () => {
  it('answers 500 internal with a generic message and no stack', async () => {
    const bank = await startBank('sqlite');
    const acct = (await bank.operator.addMerchant({ merchantId: 'shop-x' })).merchantId;
    // The database goes away under the running server: every query now throws a driver error.
    await bank.storage.close();
    try {
      const e = await failure(bank.operator.merchant(acct));
      expect({ code: e.code, status: e.status }).toEqual({ code: 'internal', status: 500 });
      // An unknown token cannot be checked without the database either: the same generic answer.
      const r = await raw(bank, 'GET', `/v1/merchants/${acct}`, { token: TOKEN });
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ error: { code: 'internal', message: expect.stringMatching(/retry later/) } });
      expect(r.text).not.toMatch(/database|sqlite|\n\s+at /i);
    } finally {
      await bank.dispose();
    }
  });
});
