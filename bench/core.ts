/**
 * The core's costs (CPU time, see passUs), per suite: each protocol step for bank, card and shop; parsing apart from
 * verification; deposit verification coin by coin and batched at 256 coins, on one core and on
 * two; the card's payment step counted in operations; and one exponentiation against OpenSSL's
 * (Node's native crypto) as the floor we measure ourselves against.
 *
 * A suite with a faster group backend installed (core/backends/) is measured on it and, under
 * `reference`, on its reference arithmetic, with `speedup` (reference time / backend time) per
 * figure; `steps` times each group operation alone on each, which is how the backend picks its
 * path per operation.
 */
import { createDiffieHellman, createECDH, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import {
  BankWithdrawalSession,
  batchVerifyTranscripts,
  bigIntToBytes,
  blindWithdrawal,
  completeWithdrawal,
  DEFAULT_SUITE,
  decodeTranscript,
  encodeKey,
  encodeTranscript,
  generateAccountSecret,
  getGroup,
  type Group,
  groupExponentiations,
  identifyDoubleSpender,
  makeDoubleSpendProof,
  meteredGroup,
  paymentChallenge,
  proveAccountOpening,
  randomNonZeroScalar,
  referenceGroup,
  respondToPayment,
  SUITE_IDS,
  type SuiteId,
  seededRandom,
  type Transcript,
  transcriptFromJson,
  transcriptToJson,
  verifyAccountOpening,
  verifyDoubleSpendProof,
  verifyTranscript,
  zeroCounts,
} from '../core/index.js';
import { MODP_G, MODP_P } from '../core/suites/modp2048.js';
import { installGroupBackends } from '../core/backends/index.js';
import { startWorker } from '../host/bank/threads.js';
import { accountZ, bankKey, cardContext, openAccount, paymentContext, spend, withdraw } from '../test/core/fixtures.js';
import { type BenchContext, type BenchModule, type Figures, median, round } from './harness.js';
import { profileTop } from './profile.js';

/** Deposit batch size of the headline figures. */
const BATCH = 256;

/**
 * µs of CPU per call of one pass of `count` calls: the process's CPU time (the work is
 * synchronous on this thread, and no worker runs meanwhile), not the wall clock, so that other
 * processes on a shared machine do not inflate it (at a load of 15 on 2 cores a pass long
 * enough to be preempted read several times dearer on the wall clock than a short one).
 */
function passUs(count: number, fn: (i: number) => unknown): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) fn(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

/**
 * Median over `runs` (after one warm-up pass) of the time per item of `timed`, in µs. `prepare`
 * builds fresh inputs for each pass outside the timing (for steps that consume their input,
 * like a withdrawal session).
 */
function perItemUs<S>(runs: number, count: number, prepare: () => S, timed: (state: S, i: number) => unknown): number {
  const times: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const state = prepare();
    const us = passUs(count, (i) => timed(state, i));
    if (r > 0) times.push(us);
  }
  return median(times);
}

/** Median µs per call of `fn` over `count` calls, for steps without per-call state. */
function perCallUs(runs: number, count: number, fn: (i: number) => unknown): number {
  return perItemUs(
    runs,
    count,
    () => undefined,
    (_, i) => fn(i),
  );
}

/** One native exponentiation in OpenSSL for the same kind of group (the floor), as a call to time. */
function nativeExp(suite: SuiteId): { name: string; once: () => unknown } {
  if (suite === 'p256-uprove') {
    const [a, b] = [createECDH('prime256v1'), createECDH('prime256v1')];
    a.generateKeys();
    const pub = b.generateKeys();
    return { name: 'OpenSSL P-256 ECDH computeSecret', once: () => a.computeSecret(pub) };
  }
  if (suite === 'ristretto255-sha512') {
    const a = generateKeyPairSync('x25519');
    const b = generateKeyPairSync('x25519');
    return { name: 'OpenSSL X25519', once: () => diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey }) };
  }
  // A 256-bit exponent modulo the 2048-bit RFC 5114 prime, as our modp suite computes.
  const dh = createDiffieHellman(Buffer.from(bigIntToBytes(MODP_P, 256)), Buffer.from(bigIntToBytes(MODP_G, 256)));
  dh.setPrivateKey(Buffer.from(bigIntToBytes(2n ** 255n + 12345n, 32)));
  const other = Buffer.from(bigIntToBytes(MODP_G, 256));
  return { name: 'OpenSSL 2048-bit modexp (DH computeSecret, 256-bit exponent)', once: () => dh.computeSecret(other) };
}

/** Batched verification of `transcripts` split over `threads` worker threads: coins per second. */
async function batchedCoinsPerSecond(
  group: Group,
  reference: boolean,
  keyBytes: Uint8Array,
  transcripts: Transcript[],
  threads: number,
  runs: number,
): Promise<number> {
  const share = Math.ceil(transcripts.length / threads);
  const workers = Array.from({ length: threads }, (_, i) => {
    const mine = transcripts.slice(i * share, (i + 1) * share).map((t) => encodeTranscript(group, t));
    return startWorker(new URL('./core-verify-worker.ts', import.meta.url), {
      suite: group.suite,
      key: keyBytes,
      transcripts: mine,
      reference,
    });
  });
  const next = (w: Worker) =>
    new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  try {
    await Promise.all(workers.map(next)); // decoded and ready
    const times: number[] = [];
    for (let r = 0; r <= runs; r++) {
      const t0 = performance.now();
      const bad = await Promise.all(workers.map((w) => (w.postMessage('go'), next(w))));
      if (bad.some((n) => n !== 0)) throw new Error('a worker found bad transcripts in a valid batch');
      if (r > 0) times.push(performance.now() - t0);
    }
    return (transcripts.length * 1000) / median(times);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Each group operation alone, and the bank's steps built on them, in µs, on every given
 * implementation of one suite, alternating run by run so that load from elsewhere on the machine
 * falls on both sides of each ratio:
 * - exp_var / exp_fixed: a received (decoded) element's and g's exponentiation, result encoded as
 *   the protocol then does;
 * - decode: with the membership check; mul: two received elements, encoded;
 * - multiexp_payment: a payment check's (g1, g2 and a received A);
 * - msm_batch_per_base: a batch's, per base (5 received elements a coin, decoded in the timing,
 *   128-bit and full exponents as batch verification has);
 * - withdraw_offer: the bank's offer (a = g^w, b = (I·g2)^w, encoded);
 * - parse_transcript, batch_verify_coin: a deposit's binary transcript parsed, and a parsed batch
 *   verified, per coin; deposit_coin is both.
 * Returns each implementation's medians and `speedup`: the median over runs of first / other.
 */
async function compareSteps(
  groups: readonly { name: string; G: Group }[],
  runs: number,
  reps: number,
  batch: number,
  profileMs: number,
): Promise<Figures> {
  const cases = groups.map(({ name, G }) => {
    const rng = seededRandom(`bench/steps/${G.suite}`);
    const bank = bankKey(G, rng);
    const alice = openAccount(G, 'alice@example.org', rng);
    const els = Array.from({ length: reps }, () => G.decode(G.encode(G.exp(G.g2, randomNonZeroScalar(G, rng)))));
    const encs = els.map((e) => G.encode(e));
    const ks = Array.from({ length: reps }, () => randomNonZeroScalar(G, rng));
    const n = 5 * batch;
    const batchEncs = Array.from({ length: n }, (_, i) => encs[i % reps]!);
    const batchExps = Array.from({ length: n }, (_, i) => (i % 5 < 2 ? ks[i % reps]! : -(ks[i % reps]! >> 128n)));
    const binary = Array.from({ length: batch }, (_, i) =>
      encodeTranscript(G, spend(G, alice, withdraw(G, bank, alice, rng), paymentContext(rng, `shop-${i % 7}`))),
    );
    const parse = () => binary.map((b) => ({ key: bank.key, transcript: decodeTranscript(G, b) }));
    const parsed = parse();
    const F = G.scalars;
    const steps: Record<string, () => number> = {
      exp_var_us: () => passUs(reps, (i) => G.encode(G.exp(els[i]!, ks[i]!))),
      exp_fixed_us: () => passUs(reps, (i) => G.encode(G.exp(G.g, ks[i]!))),
      decode_us: () => passUs(reps, (i) => G.decode(encs[i]!)),
      mul_us: () => passUs(reps, (i) => G.encode(G.mul(els[i]!, els[(i + 1) % reps]!))),
      multiexp_payment_us: () =>
        passUs(reps, (i) => G.isIdentity(G.multiExp([G.g1, G.g2, els[i]!], [ks[i]!, ks[(i + 1) % reps]!, F.neg(ks[(i + 2) % reps]!)]))),
      msm_batch_per_base_us: () =>
        passUs(1, () =>
          G.multiExp(
            batchEncs.map((e) => G.decode(e)),
            batchExps,
          ),
        ) / n,
      withdraw_offer_us: () => passUs(reps, () => BankWithdrawalSession.offer(G, bank, alice.I, rng)),
      parse_transcript_us: () => passUs(1, parse) / batch,
      batch_verify_coin_us: () => passUs(1, () => batchVerifyTranscripts(G, parsed)) / batch,
      deposit_coin_us: () => passUs(1, () => batchVerifyTranscripts(G, parse())) / batch,
    };
    return { name, steps };
  });
  const times = new Map<string, number[]>();
  for (let r = 0; r <= runs; r++) {
    for (const step of Object.keys(cases[0]!.steps)) {
      for (const c of cases) {
        const us = c.steps[step]!();
        if (r === 0) continue; // warm-up
        const key = `${c.name}/${step}`;
        times.set(key, [...(times.get(key) ?? []), us]);
      }
    }
  }
  const out: Figures = {};
  for (const c of cases) {
    const f: Figures = {};
    for (const step of Object.keys(c.steps)) f[step] = round(median(times.get(`${c.name}/${step}`)!), 2);
    out[c.name] = f;
  }
  if (cases.length === 2) {
    const [a, b] = cases.map((c) => c.name) as [string, string];
    const speedup: Figures = {};
    for (const step of Object.keys(cases[0]!.steps)) {
      const ta = times.get(`${a}/${step}`)!;
      const tb = times.get(`${b}/${step}`)!;
      speedup[step] = round(median(ta.map((t, i) => tb[i]! / t)), 2);
    }
    out[`speedup_${a}_over_${b}`] = speedup;
  }
  out.runs = runs;
  // Where the first implementation's time goes in the steps the issue's targets name (and the
  // batch verification a deposit adds to its parse): the targets table prints these beside a miss.
  const profiles: Figures = {};
  for (const step of ['exp_var_us', 'parse_transcript_us', 'batch_verify_coin_us']) {
    const run = cases[0]!.steps[step]!;
    profiles[step] = await profileTop(() => {
      const t0 = performance.now();
      do run();
      while (performance.now() - t0 < profileMs);
    });
  }
  out.profiles = profiles;
  return out;
}

async function benchSuite(G: Group, reference: boolean, ctx: BenchContext): Promise<Figures> {
  const suite = G.suite;
  const slow = suite === 'modp2048-256';
  const runs = ctx.quick ? 2 : slow ? 3 : 5;
  const reps = ctx.quick ? 4 : slow ? 10 : 40;
  const batchSize = ctx.quick ? 32 : BATCH;
  const rng = seededRandom(`bench/${suite}`);
  const bank = bankKey(G, rng);
  const alice = openAccount(G, 'alice@example.org', rng);
  const card = cardContext(G, bank, alice);
  const offers = () => Array.from({ length: reps }, () => BankWithdrawalSession.offer(G, bank, alice.I, rng));
  const blinded = () => offers().map((s) => ({ session: s, pending: blindWithdrawal(G, card, s.offer, rng) }));

  const f: Figures = {};
  f.card_open_account_us = perCallUs(runs, reps, () => {
    const { u1, I } = generateAccountSecret(G, rng);
    return proveAccountOpening(G, u1, I, 'alice@example.org', rng);
  });
  f.bank_open_account_us = perCallUs(runs, reps, () => verifyAccountOpening(G, alice.holder, alice.opening));
  f.bank_issue_z_us = perCallUs(runs, reps, () => accountZ(G, bank, alice.I));
  f.bank_withdraw_offer_us = perCallUs(runs, reps, () => BankWithdrawalSession.offer(G, bank, alice.I, rng));
  f.card_withdraw_blind_us = perItemUs(runs, reps, offers, (s, i) => blindWithdrawal(G, card, s[i]!.offer, rng));
  f.bank_withdraw_answer_us = perItemUs(runs, reps, blinded, (s, i) => s[i]!.session.answer(s[i]!.pending.c));
  const answered = () => blinded().map(({ session, pending }) => ({ pending, r: session.answer(pending.c) }));
  f.card_withdraw_complete_us = perItemUs(runs, reps, answered, (s, i) => completeWithdrawal(G, card, s[i]!.pending, s[i]!.r));
  f.bank_withdraw_sign_coins_per_s = 1e6 / ((f.bank_withdraw_offer_us as number) + (f.bank_withdraw_answer_us as number));

  // The card's payment step: it computes d itself, then two multiplications and two additions mod q.
  const coin = withdraw(G, bank, alice, rng);
  const payCtx = paymentContext(rng);
  f.card_pay_us = perCallUs(runs, reps * 20, () => respondToPayment(G, alice.u1, coin.secrets, paymentChallenge(G, coin.coin, payCtx)));
  const counts = zeroCounts();
  const M = meteredGroup(G, counts);
  respondToPayment(M, alice.u1, coin.secrets, paymentChallenge(M, coin.coin, payCtx));
  f.card_pay_group_exps = groupExponentiations(counts);
  f.card_pay_group_muls = counts.groupMul;
  f.card_pay_scalar_muls = counts.scalarMul;
  f.card_pay_scalar_adds = counts.scalarAdd;
  f.card_pay_hashes = counts.hash;

  // Deposit: a batch of valid transcripts of distinct coins under one key.
  ctx.log(`   ${suite}: withdrawing and spending ${batchSize} coins…`);
  const transcripts = Array.from({ length: batchSize }, (_, i) =>
    spend(G, alice, withdraw(G, bank, alice, rng), paymentContext(rng, `shop-${i % 7}`)),
  );
  const items = transcripts.map((t) => ({ key: bank.key, transcript: t }));
  const json = transcripts.map((t) => JSON.stringify(transcriptToJson(G, t)));
  const binary = transcripts.map((t) => encodeTranscript(G, t));
  const parseRuns = slow ? 1 : runs;
  f.parse_transcript_json_us = perCallUs(parseRuns, batchSize, (i) => transcriptFromJson(G, JSON.parse(json[i]!)));
  f.parse_transcript_binary_us = perCallUs(parseRuns, batchSize, (i) => decodeTranscript(G, binary[i]!));
  // Coin by coin and batched alternate run by run, so load from elsewhere on the machine falls on
  // both sides of each run's ratio.
  const single: number[] = [];
  const batched: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const s = passUs(batchSize, (i) => verifyTranscript(G, bank.key, transcripts[i]!));
    const b =
      passUs(1, () => {
        if (batchVerifyTranscripts(G, items).length !== 0) throw new Error('a valid batch did not verify');
      }) / batchSize;
    if (r === 0) continue; // warm-up
    single.push(s);
    batched.push(b);
  }
  f.shop_verify_payment_us = median(single);
  f.deposit_verify_coin_us = median(single);
  f.deposit_verify_batched_coin_us = median(batched);
  f.deposit_batch_ratio = median(single.map((s, i) => s / batched[i]!));
  f.deposit_batch_size = batchSize;
  f.deposit_verify_batched_coins_per_s_1thread = 1e6 / (f.deposit_verify_batched_coin_us as number);
  const cores = Math.min(2, availableParallelism());
  f.deposit_verify_batched_coins_per_s_2threads = await batchedCoinsPerSecond(G, reference, encodeKey(G, bank.key), transcripts, 2, runs);
  f.cores_available = availableParallelism();

  const ds = doubleSpend(G, bank, alice, rng);
  f.bank_identify_double_spender_us = perCallUs(runs, reps, () => identifyDoubleSpender(G, ...ds.transcripts));
  f.verify_double_spend_proof_us = perCallUs(runs, reps, () => verifyDoubleSpendProof(G, ds));

  // Ours and OpenSSL's alternate pass by pass and the ratio is the median of each pass pair's, so
  // load from elsewhere on the machine falls on both sides of it.
  const base = G.exp(G.g1, randomNonZeroScalar(G, rng));
  const ks = Array.from({ length: reps }, () => randomNonZeroScalar(G, rng));
  const native = nativeExp(suite);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const e = passUs(reps, (i) => G.exp(base, ks[i]!));
    const n = passUs(reps, native.once);
    if (r === 0) continue; // warm-up
    ours.push(e);
    theirs.push(n);
  }
  f.exp_us = median(ours);
  f.native_exp = native.name;
  f.native_exp_us = median(theirs);
  f.exp_vs_native_ratio = median(ours.map((e, i) => e / theirs[i]!));
  f.runs = runs;

  const rounded: Figures = {};
  for (const [k, v] of Object.entries(f)) rounded[k] = typeof v === 'number' ? round(v, k.includes('_per_s') ? 0 : 2) : v;
  logSuite(ctx, suite, rounded, cores);
  return rounded;
}

function doubleSpend(
  G: Group,
  bank: ReturnType<typeof bankKey>,
  alice: ReturnType<typeof openAccount>,
  rng: ReturnType<typeof seededRandom>,
) {
  const w = withdraw(G, bank, alice, rng);
  return makeDoubleSpendProof(
    G,
    bank.key,
    spend(G, alice, w, paymentContext(rng, 'shop-1')),
    spend(G, alice, w, paymentContext(rng, 'shop-2')),
  );
}

function logSuite(ctx: BenchContext, suite: SuiteId, f: Figures, cores: number): void {
  const ms = (k: string) => `${round((f[k] as number) / 1000, 3)} ms`;
  const us = (k: string) => `${f[k]} µs`;
  ctx.log(`   ${suite}`);
  ctx.log(
    `     bank: open account ${ms('bank_open_account_us')}, z per key ${ms('bank_issue_z_us')}, withdrawal offer ${ms('bank_withdraw_offer_us')}, answer ${us('bank_withdraw_answer_us')} → ${f.bank_withdraw_sign_coins_per_s} coins/s signed`,
  );
  ctx.log(
    `     card: open account ${ms('card_open_account_us')}, blind ${ms('card_withdraw_blind_us')}, complete ${ms('card_withdraw_complete_us')}, pay ${us('card_pay_us')} (${f.card_pay_group_exps} group exps, ${f.card_pay_group_muls} group muls, ${f.card_pay_scalar_muls} mults and ${f.card_pay_scalar_adds} adds mod q, ${f.card_pay_hashes} hash)`,
  );
  ctx.log(
    `     shop: verify a payment ${ms('shop_verify_payment_us')}; parse a transcript ${ms('parse_transcript_binary_us')} (binary), ${ms('parse_transcript_json_us')} (JSON)`,
  );
  ctx.log(
    `     deposit @${f.deposit_batch_size}: coin by coin ${ms('deposit_verify_coin_us')}/coin, batched ${ms('deposit_verify_batched_coin_us')}/coin → ${f.deposit_batch_ratio}x; ${f.deposit_verify_batched_coins_per_s_1thread} coins/s on 1 thread, ${f.deposit_verify_batched_coins_per_s_2threads} on 2 threads (${cores} of ${f.cores_available} cores)`,
  );
  ctx.log(`     double spend: identify ${us('bank_identify_double_spender_us')}, verify proof ${ms('verify_double_spend_proof_us')}`);
  ctx.log(`     one exponentiation ${ms('exp_us')} vs ${f.native_exp} ${ms('native_exp_us')} → ${f.exp_vs_native_ratio}x`);
}

/** reference / backend for every time (µs) figure: above 1 where the backend is faster. */
function speedups(backend: Figures, reference: Figures): Figures {
  const out: Figures = {};
  for (const [k, v] of Object.entries(backend)) {
    const r = reference[k];
    if (k.endsWith('_us') && typeof v === 'number' && typeof r === 'number' && v > 0) out[k] = round(r / v, 2);
    if (k.endsWith('_per_s') && typeof v === 'number' && typeof r === 'number' && r > 0) out[k] = round(v / r, 2);
  }
  return out;
}

export const coreBench: BenchModule = {
  name: 'core',
  async run(ctx) {
    const figures: Figures = {};
    const backends = await installGroupBackends();
    for (const suite of SUITE_IDS) {
      const backend = backends[suite];
      ctx.log(`   ${suite} on ${backend}`);
      const f = await benchSuite(getGroup(suite), backend.startsWith('reference'), ctx);
      f.backend = backend;
      if (!backend.startsWith('reference')) {
        ctx.log(`   ${suite} on its reference arithmetic`);
        const ref = await benchSuite(referenceGroup(suite), true, ctx);
        f.reference = ref;
        f.speedup = speedups(f, ref);
        ctx.log(`   ${suite}: ${backend} / reference speedups ${JSON.stringify(f.speedup)}`);
      }
      const slow = suite === 'modp2048-256';
      const groups = [{ name: backend.startsWith('reference') ? 'reference' : backend, G: getGroup(suite) }];
      if (!backend.startsWith('reference')) groups.push({ name: 'reference', G: referenceGroup(suite) });
      ctx.log(`   ${suite}: each step on ${groups.map((g) => g.name).join(' and ')}, alternating…`);
      f.steps = await compareSteps(
        groups,
        ctx.quick ? 2 : slow ? 3 : 7,
        ctx.quick ? 4 : slow ? 8 : 40,
        ctx.quick ? 8 : slow ? 16 : 64,
        ctx.quick ? 0 : 300,
      );
      ctx.log(`   ${suite} steps (µs): ${JSON.stringify(f.steps)}`);
      figures[suite] = f;
    }
    const d = figures[DEFAULT_SUITE] as Figures;
    // The documented figure names at the top level are the default suite's figures. Signing in process (the
    // bank's offer and answer) is withdraw_sign_coins_per_s; withdraw_coins_per_s is the bank
    // module's figure over HTTP with storage (bench/bank.ts).
    for (const k of ['deposit_verify_coin_us', 'deposit_verify_batched_coin_us', 'card_pay_group_exps', 'card_pay_scalar_muls'])
      figures[k] = d[k]!;
    figures.withdraw_sign_coins_per_s = d.bank_withdraw_sign_coins_per_s!;
    figures.native_exp_p256_ecdh_us = (figures['p256-uprove'] as Figures).native_exp_us!;
    return figures;
  },
};
