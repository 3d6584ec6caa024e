/**
 * Worker threads of the bank benchmark (bench/bank.ts), so the main thread is the bank alone:
 *
 * - `mint`: real, distinct coins paid to the bench's merchants, as wire transcripts. The bench holds
 *   the key's secret x, so it signs each coin directly (fresh s, x1, x2 and nonce t per coin:
 *   a' = g^t, b' = A^t, r' = c'·x + t), which yields exactly the coins a blind withdrawal yields
 *   (there t = w·u + v') for less: every base is fixed (g, g1, g2 and the account's
 *   I·g2), so no variable-base exponentiation is needed. The first coins are checked with core's
 *   verifyCoin, and the bank verifies every one on deposit.
 * - `withdraw`: card-side withdrawal loops over HTTP, one per account, all at once on each "go".
 *   A blind run does the card's real work (blindWithdrawal, completeWithdrawal, which checks the
 *   bank's answer); otherwise the loop sends a random challenge and skips the card's math, which
 *   the bank cannot tell apart, to measure what the bank sustains when cards compute elsewhere.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  blindWithdrawal,
  coinChallenge,
  completeWithdrawal,
  fromHex,
  getGroup,
  type GroupElement,
  keyFromJson,
  type KeyJson,
  randomNonZeroScalar,
  randomScalar,
  type SuiteId,
  seededRandom,
  systemRandom,
  toHex,
  transcriptToJson,
  type TranscriptJson,
  verifyCoin,
} from '../core/index.js';
import { BankClient } from '../host/bank-client/index.js';
import { bankKey, openAccount, paymentContext, spend } from '../test/core/fixtures.js';

export interface MintTask {
  task: 'mint';
  suite: SuiteId;
  /** Seed of the bench's denomination key (every thread derives the same key from it). */
  keySeed: string;
  /** Index of this thread's account (a distinct card per thread). */
  worker: number;
  /** Coin indexes [from, to): coin i is paid to merchants[i % merchants.length]. */
  from: number;
  to: number;
  merchants: string[];
}

export interface WithdrawTask {
  task: 'withdraw';
  suite: SuiteId;
  baseUrl: string;
  key: KeyJson;
  accounts: { token: string; I: string; z: string }[];
  coinsPerAccount: number;
}

/** Starts one run of every withdrawal loop of a thread. */
export interface WithdrawGo {
  blind: boolean;
}

export type WorkerTask = MintTask | WithdrawTask;

export type WorkerReply =
  | { ready: true }
  | { minted: { index: number; transcript: TranscriptJson }[] }
  | { withdrawn: number }
  | { error: string };

const port = parentPort!;
const task = workerData as WorkerTask;

function mint(t: MintTask): { index: number; transcript: TranscriptJson }[] {
  const G = getGroup(t.suite);
  const F = G.scalars;
  const secret = bankKey(G, seededRandom(t.keySeed));
  const account = openAccount(G, `bench-card-${t.worker}`, systemRandom);
  // The account's I·g2 is a fixed base for every coin of this card: one table, many exponents.
  const P = G.precompute(G.mul(account.I, G.g2));
  const out: { index: number; transcript: TranscriptJson }[] = [];
  for (let i = t.from; i < t.to; i++) {
    const s = randomNonZeroScalar(G, systemRandom);
    const x1 = randomScalar(G, systemRandom);
    const x2 = randomScalar(G, systemRandom);
    const nonce = randomScalar(G, systemRandom);
    const draft = {
      keyId: secret.key.keyId,
      A: G.exp(P, s),
      B: G.mul(G.exp(G.g1, x1), G.exp(G.g2, x2)),
      z: G.exp(P, F.mul(s, secret.x)),
      a: G.exp(G.g, nonce),
      b: G.exp(P, F.mul(s, nonce)),
    };
    const coin = { ...draft, r: F.add(F.mul(coinChallenge(G, draft), secret.x), nonce) };
    if (i - t.from < 3 && !verifyCoin(G, secret.key, coin)) throw new Error('a minted coin does not verify');
    const merchant = t.merchants[i % t.merchants.length]!;
    const transcript = spend(G, account, { coin, secrets: { s, x1, x2 } }, paymentContext(systemRandom, merchant, 'bench-till'));
    out.push({ index: i, transcript: transcriptToJson(G, transcript) });
  }
  return out;
}

/** One card of a withdraw thread, parsed once (the key's table, I and z) before any timed run. */
interface Card {
  client: BankClient;
  ctx: { key: ReturnType<typeof keyFromJson>; z: GroupElement; I: GroupElement };
}

function cardOf(t: WithdrawTask, key: Card['ctx']['key'], a: WithdrawTask['accounts'][number]): Card {
  const G = getGroup(t.suite);
  return {
    client: new BankClient({ baseUrl: t.baseUrl, token: a.token }),
    ctx: { key, z: G.decode(fromHex(a.z), 'z'), I: G.decode(fromHex(a.I), 'I') },
  };
}

async function withdrawLoop(t: WithdrawTask, { client, ctx }: Card, blind: boolean): Promise<number> {
  const G = getGroup(t.suite);
  let n = 0;
  for (let i = 0; i < t.coinsPerAccount; i++) {
    const s = await client.startWithdrawal(t.key.keyId);
    if (blind) {
      const pending = blindWithdrawal(
        G,
        { ...ctx, z: G.decode(fromHex(s.z), 'z') },
        { a: G.decode(fromHex(s.a), 'a'), b: G.decode(fromHex(s.b), 'b') },
        systemRandom,
      );
      const { r } = await client.answerWithdrawal(s.sessionId, toHex(G.scalars.encode(pending.c)));
      completeWithdrawal(G, ctx, pending, G.scalars.decode(fromHex(r), 'r'));
    } else {
      await client.answerWithdrawal(s.sessionId, toHex(G.scalars.encode(randomScalar(G, systemRandom))));
    }
    n++;
  }
  return n;
}

async function main(): Promise<void> {
  if (task.task === 'mint') {
    port.postMessage({ minted: mint(task) } satisfies WorkerReply);
    return;
  }
  // Parse the cards (the key's fixed-base table, I, z) before "go", so the timed part is the loops.
  // Every "go" runs the loops once more: the bench sends an untimed first one so the timed ones run warm.
  const t = task;
  const key = keyFromJson(getGroup(t.suite), t.key); // one key (and one lazy table) for every card
  const cards = t.accounts.map((a) => cardOf(t, key, a));
  port.on('message', (go: WithdrawGo) => {
    Promise.all(cards.map((c) => withdrawLoop(t, c, go.blind))).then(
      (counts) => port.postMessage({ withdrawn: counts.reduce((x, y) => x + y, 0) } satisfies WorkerReply),
      (e: unknown) => port.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies WorkerReply),
    );
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}

main().catch((e: unknown) => port.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies WorkerReply));
