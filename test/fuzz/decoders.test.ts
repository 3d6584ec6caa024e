/**
 * Fuzzing every decoder of wire and stored data: coins, transcripts, keys and double-spend proofs
 * (binary and JSON, in each suite), every card message layout, command and response APDUs, USB
 * HID framing, the remote bridge's frames and recorded cassettes. Inputs are valid encodings
 * mutated (bytes flipped, cut, extended, duplicated; JSON fields removed, retyped, added) and
 * pure random input. Property: an input decodes into a value whose re-encoding is the input (so no
 * two encodings mean one thing), or it is refused with an EcashError and a kebab-case code;
 * never a TypeError, RangeError or anything else. test/fuzz/harness.ts says how long each runs.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bytesEqual,
  coinFromJson,
  coinToJson,
  decodeCoin,
  decodeKey,
  decodeProof,
  decodeTranscript,
  encodeCoin,
  encodeKey,
  encodeProof,
  encodeTranscript,
  getGroup,
  keyFromJson,
  keyToJson,
  makeDoubleSpendProof,
  proofFromJson,
  proofToJson,
  seededRandom,
  SUITE_IDS,
  suiteOfJson,
  toHex,
  transcriptCoinId,
  transcriptFromJson,
  transcriptToJson,
  BankWithdrawalSession,
  type Group,
  type SuiteId,
} from '../../core/index.js';
import {
  decodeBalance,
  decodeChangePin,
  decodeCost,
  decodeFci,
  decodeLog,
  decodeOpenAccount,
  decodeOpenAccountResponse,
  decodePay,
  decodePayResponse,
  decodePersonalise,
  decodeSetLimit,
  decodeUnblockPin,
  decodeVerify,
  decodeWithdrawBegin,
  decodeWithdrawChallenge,
  decodeWithdrawEnd,
  decodeWithdrawEndResponse,
  encodeBalance,
  encodeChangePin,
  encodeCommand,
  encodeCost,
  encodeFci,
  encodeLog,
  encodeOpenAccount,
  encodeOpenAccountResponse,
  encodePay,
  encodePayResponse,
  encodePersonalise,
  encodeResponse,
  encodeSetLimit,
  encodeUnblockPin,
  encodeVerify,
  encodeWithdrawBegin,
  encodeWithdrawChallenge,
  encodeWithdrawEnd,
  encodeWithdrawEndResponse,
  frameMessage,
  HID_REPORT_SIZE,
  HidMessageAssembler,
  parseCommand,
  parseResponse,
} from '../../wire/index.js';
import { ParsedParameters } from '../../host/bank-client/index.js';
import { parseCassette } from '../../reader-bridge/index.js';
import { encodeRequest, parseChannelDescription, parseReply, parseRequest, parseResponseHex } from '../../reader-bridge/remote-protocol.js';
import { accountZ, bankKey, openAccount, paymentContext, spend, withdraw } from '../core/fixtures.js';
import { decodesOrRefuses, fuzz, mutatedBytes, mutatedJson, TARGET_TIMEOUT_MS } from './harness.js';

const FILE = import.meta.url;

interface Target {
  name: string;
  /** Cases in the bounded run (`npm test`). */
  runs: number;
  run: () => Promise<void>;
}

/** A decoder fed `inputs`: each input decodes (and then re-encodes to itself) or is refused with a code. */
function target<I, T>(
  name: string,
  inputs: fc.Arbitrary<I>,
  decode: (input: I) => T,
  reencodes: ((v: T, input: I) => boolean) | undefined,
  runs: number,
): Target {
  const property = fc.property(inputs, (input) => {
    decodesOrRefuses(
      () => decode(input),
      (v) => {
        if (reencodes !== undefined) expect(reencodes(v, input), `${name}: a decoded value re-encodes to something else`).toBe(true);
      },
    );
  });
  return { name, runs, run: () => fuzz(FILE, name, property, runs) };
}

/** A byte decoder whose successes must re-encode to the very input. */
function bytesTarget<T>(
  name: string,
  valid: Uint8Array[],
  decode: (b: Uint8Array) => T,
  encode: ((v: T) => Uint8Array) | undefined,
  runs = 150,
): Target {
  return target(name, mutatedBytes(valid), decode, encode && ((v, bytes) => bytesEqual(encode(v), bytes)), runs);
}

/** A JSON decoder whose successes must re-encode to an equal document. */
function jsonTarget<T>(
  name: string,
  valid: unknown[],
  decode: (v: unknown) => T,
  encode: ((v: T) => unknown) | undefined,
  runs = 150,
): Target {
  return target(name, mutatedJson(valid), decode, encode && ((v, doc) => isDeepStrictEqual(encode(v), doc)), runs);
}

/** Everything a suite's coins, transcripts, keys and proofs look like, validly encoded. */
function suiteSamples(suite: SuiteId) {
  const group = getGroup(suite);
  const rng = seededRandom(`fuzz-decoders-${suite}`);
  const secret = bankKey(group, rng, 500, 'EUR', suite === 'p256-uprove' ? 'transit' : '');
  const account = openAccount(group, 'holder-fuzz', rng);
  const withdrawn = withdraw(group, secret, account, rng);
  const t1 = spend(group, account, withdrawn, paymentContext(rng, 'shop-1', 'till-1'));
  const t2 = spend(group, account, withdrawn, paymentContext(rng, 'shop-ünï', 'till-2'));
  const proof = makeDoubleSpendProof(group, secret.key, t1, t2);
  const session = BankWithdrawalSession.offer(group, secret, account.I, rng);
  return { group, secret, account, withdrawn, transcripts: [t1, t2], proof, offer: session.offer, z: accountZ(group, secret, account.I) };
}

function coreTargets(suite: SuiteId): Target[] {
  const s = suiteSamples(suite);
  const g: Group = s.group;
  const keyId = s.secret.key.keyId;
  const runs = suite === 'modp2048-256' ? 40 : 150;
  const hex = (e: typeof s.z) => toHex(g.encode(e));
  const parameters = {
    suite,
    generators: { g: hex(g.g), g1: hex(g.g1), g2: hex(g.g2) },
    keys: [keyToJson(g, s.secret.key)],
    accountDepositorPrefix: 'account:',
    withdrawalSessionTtlMs: 600_000,
    maxDepositBatch: 500,
  };
  return [
    // What a terminal makes of the bank's GET /v1/parameters (a fresh parser each time: no cache).
    jsonTarget(
      `${suite} public parameters`,
      [parameters],
      (v) => new ParsedParameters().update(v as typeof parameters).keys,
      undefined,
      runs,
    ),
    bytesTarget(
      `${suite} coin`,
      [encodeCoin(g, s.withdrawn.coin)],
      (b) => decodeCoin(g, b),
      (c) => encodeCoin(g, c),
      runs,
    ),
    bytesTarget(
      `${suite} transcript`,
      s.transcripts.map((t) => encodeTranscript(g, t)),
      (b) => decodeTranscript(g, b),
      (t) => encodeTranscript(g, t),
      runs,
    ),
    bytesTarget(
      `${suite} transcript coin id`,
      s.transcripts.map((t) => encodeTranscript(g, t)),
      (b) => transcriptCoinId(g, b),
      undefined,
      runs,
    ),
    bytesTarget(
      `${suite} key`,
      [encodeKey(g, s.secret.key)],
      (b) => decodeKey(g, b),
      (k) => encodeKey(g, k),
      runs,
    ),
    bytesTarget(
      `${suite} double-spend proof`,
      [encodeProof(g, s.proof)],
      (b) => decodeProof(g, b),
      (p) => encodeProof(g, p),
      Math.ceil(runs / 3),
    ),
    jsonTarget(
      `${suite} coin JSON`,
      [coinToJson(g, s.withdrawn.coin)],
      (v) => coinFromJson(g, keyId, v),
      (c) => coinToJson(g, c),
      runs,
    ),
    jsonTarget(
      `${suite} transcript JSON`,
      s.transcripts.map((t) => transcriptToJson(g, t)),
      (v) => transcriptFromJson(g, v),
      (t) => transcriptToJson(g, t),
      runs,
    ),
    jsonTarget(
      `${suite} key JSON`,
      [keyToJson(g, s.secret.key)],
      (v) => keyFromJson(g, v),
      (k) => keyToJson(g, k),
      runs,
    ),
    jsonTarget(
      `${suite} double-spend proof JSON`,
      [proofToJson(g, s.proof)],
      (v) => proofFromJson(g, v),
      (p) => proofToJson(g, p),
      Math.ceil(runs / 3),
    ),
    jsonTarget(`${suite} suite of a document`, [keyToJson(g, s.secret.key)], (v) => suiteOfJson(v), undefined, runs),
    // The card's messages that carry group elements.
    bytesTarget(
      `${suite} WITHDRAW BEGIN`,
      [encodeWithdrawBegin(g, { key: s.secret.key, z: s.z, offer: s.offer })],
      (b) => decodeWithdrawBegin(g, b),
      (r) => encodeWithdrawBegin(g, r),
      runs,
    ),
    bytesTarget(
      `${suite} OPEN ACCOUNT response`,
      [encodeOpenAccountResponse(g, s.account.opening)],
      (b) => decodeOpenAccountResponse(g, b),
      (o) => encodeOpenAccountResponse(g, o),
      runs,
    ),
    bytesTarget(
      `${suite} WITHDRAW challenge`,
      [encodeWithdrawChallenge(g, { keyId, c: s.withdrawn.pending.c })],
      (b) => decodeWithdrawChallenge(g, b),
      (c) => encodeWithdrawChallenge(g, c),
      runs,
    ),
    bytesTarget(
      `${suite} WITHDRAW END`,
      [encodeWithdrawEnd(g, s.withdrawn.view.r)],
      (b) => decodeWithdrawEnd(g, b),
      (r) => encodeWithdrawEnd(g, r),
      runs,
    ),
    bytesTarget(
      `${suite} PAY response`,
      [
        encodePayResponse(
          g,
          s.transcripts.map((t) => ({ coin: t.coin, r1: t.r1, r2: t.r2 })),
        ),
      ],
      (b) => decodePayResponse(g, b),
      (p) => encodePayResponse(g, p),
      runs,
    ),
  ];
}

const ctx = { merchantId: 'shop-1', terminalId: 'till-1', timestamp: 1_780_000_000_000, nonce: new Uint8Array(16).fill(7) };
const keyA = new Uint8Array(32).fill(0xaa);
const keyB = new Uint8Array(32).fill(0xbb);

const cardMessageTargets: Target[] = [
  bytesTarget(
    'SELECT FCI',
    [encodeFci({ version: 2, suite: 'ristretto255-sha512', capacity: 120 }), encodeFci({ version: 2, suite: undefined, capacity: 0 })],
    decodeFci,
    encodeFci,
  ),
  bytesTarget('VERIFY', [encodeVerify('1234'), encodeVerify('123456789012')], decodeVerify, encodeVerify),
  bytesTarget('CHANGE REFERENCE DATA', [encodeChangePin({ oldPin: '1234', newPin: '98765' })], decodeChangePin, encodeChangePin),
  bytesTarget('RESET RETRY COUNTER', [encodeUnblockPin({ puk: '12345678', newPin: '4321' })], decodeUnblockPin, encodeUnblockPin),
  bytesTarget(
    'PERSONALISE',
    [encodePersonalise({ suite: 'p256-uprove', pin: '1234', puk: '12345678', noPinLimit: 2500 })],
    decodePersonalise,
    encodePersonalise,
  ),
  bytesTarget('OPEN ACCOUNT', [encodeOpenAccount('holder-1'), encodeOpenAccount('ünï')], decodeOpenAccount, encodeOpenAccount),
  bytesTarget(
    'WITHDRAW END response',
    [encodeWithdrawEndResponse({ keyId: keyA, freeSlots: 17 })],
    decodeWithdrawEndResponse,
    encodeWithdrawEndResponse,
  ),
  bytesTarget(
    'GET BALANCE response',
    [
      encodeBalance([
        { keyId: keyA, value: 500, currency: 'EUR', scope: '', depositUntil: 1_830_297_600_000, count: 3 },
        { keyId: keyB, value: 20, currency: 'CHF', scope: 'transit', depositUntil: 1_830_297_600_000, count: 1 },
      ]),
      encodeBalance([]),
    ],
    decodeBalance,
    encodeBalance,
  ),
  bytesTarget('PAY', [encodePay({ context: ctx, amount: 520, currency: 'EUR', acceptedKeys: [keyA, keyB] })], decodePay, encodePay),
  bytesTarget(
    'READ LOG response',
    [
      encodeLog([{ timestamp: 1_780_000_000_000, merchantId: 'shop-1', terminalId: 'till-1', amount: 520, currency: 'EUR', coins: 2 }]),
      encodeLog([]),
    ],
    decodeLog,
    encodeLog,
  ),
  bytesTarget('SET LIMIT', [encodeSetLimit({ pin: '1234', limit: 1000 })], decodeSetLimit, encodeSetLimit),
  bytesTarget(
    'GET COST response',
    [
      encodeCost({
        exp: 3,
        multiExp: 1,
        multiExpBases: 2,
        groupMul: 4,
        scalarMul: 5,
        scalarAdd: 6,
        scalarInv: 0,
        hash: 2,
        decode: 1,
        nvmBytesWritten: 900,
        nvmWrites: 4,
      }),
    ],
    decodeCost,
    encodeCost,
  ),
];

const apdu = (cla: number, ins: number, data: number, le: number | undefined, extended = false) =>
  encodeCommand({ cla, ins, p1: 0x04, p2: 0x00, data: new Uint8Array(data).fill(0x5a), le }, { extended });

const apduTargets: Target[] = [
  bytesTarget(
    'command APDU',
    [
      apdu(0x00, 0xa4, 7, 256),
      apdu(0x80, 0x50, 0, undefined),
      apdu(0x80, 0x50, 300, 65536, true),
      apdu(0x80, 0x50, 0, 65536, true),
      apdu(0x10, 0x20, 255, undefined),
    ],
    parseCommand,
    undefined,
  ),
  bytesTarget(
    'response APDU',
    [encodeResponse({ data: new Uint8Array(20).fill(1), sw: 0x9000 }), encodeResponse({ data: new Uint8Array(0), sw: 0x6a82 })],
    parseResponse,
    encodeResponse,
  ),
  {
    name: 'HID framing',
    runs: 150,
    run: () => {
      const valid = [...frameMessage(3, new Uint8Array(150).fill(9)), ...frameMessage(3, new Uint8Array(0))];
      const report = fc.oneof(mutatedBytes(valid, 70), fc.uint8Array({ minLength: HID_REPORT_SIZE, maxLength: HID_REPORT_SIZE }));
      return fuzz(
        FILE,
        'HID framing',
        fc.property(fc.array(report, { maxLength: 8 }), (reports) => {
          const assembler = new HidMessageAssembler(3);
          for (const r of reports)
            decodesOrRefuses(
              () => assembler.push(r),
              (m) => expect(m === undefined || m.length <= 0xffff).toBe(true),
            );
        }),
        150,
      );
    },
  },
];

const wireText = (valid: string[]) =>
  fc.oneof(
    mutatedJson(valid.map((v) => JSON.parse(v) as unknown)).map((v) => JSON.stringify(v) ?? 'null'),
    mutatedBytes(valid.map((v) => new TextEncoder().encode(v))).map((b) => new TextDecoder().decode(b)),
  );

function textTarget<T>(name: string, valid: string[], decode: (s: string) => T): Target {
  return {
    name,
    runs: 200,
    run: () =>
      fuzz(
        FILE,
        name,
        fc.property(wireText(valid), (s) => void decodesOrRefuses(() => decode(s))),
        200,
      ),
  };
}

const bridgeTargets: Target[] = [
  textTarget(
    'remote bridge request',
    [
      encodeRequest({ id: 1, op: 'list' }),
      encodeRequest({ id: 2, op: 'connect', reader: 'Virtual PCD 00 00', share: 'shared', protocols: ['T=1'] }),
      encodeRequest({ id: 3, op: 'transmit', channel: 1, apdu: apdu(0x00, 0xa4, 7, 256), timeoutMs: 5000 }),
      encodeRequest({ id: 4, op: 'disconnect', channel: 1, disposition: 'unpower' }),
      encodeRequest({ id: 5, op: 'reconnect', channel: 1 }),
    ],
    parseRequest,
  ),
  textTarget(
    'remote bridge reply',
    [
      JSON.stringify({ id: 3, result: { response: '9000' } }),
      JSON.stringify({ id: 2, result: { channel: 1, atr: '3b80800101', protocol: 'T=1' } }),
      JSON.stringify({ id: 4, error: { code: 'no-card', message: 'no card' } }),
      JSON.stringify({ event: { type: 'card-inserted', reader: { name: 'r', transport: 'pcsc', cardPresent: true }, atr: '3b80800101' } }),
    ],
    (s) => {
      const reply = parseReply(s);
      if ('result' in reply) {
        decodesOrRefuses(() => parseChannelDescription(reply.result));
        decodesOrRefuses(() => parseResponseHex(reply.result));
      }
      return reply;
    },
  ),
  jsonTarget(
    'replay cassette',
    [
      {
        version: 1,
        reader: 'Virtual PCD 00 00',
        atr: '3b80800101',
        protocol: 'T=1',
        exchanges: [
          { command: '00a4040007f045434153480100', response: '9000' },
          { command: '80500000', error: { code: 'card-removed', message: 'gone' } },
        ],
      },
    ],
    parseCassette,
    undefined,
  ),
];

describe('fuzzing the decoders', () => {
  const all: Target[] = [...cardMessageTargets, ...apduTargets, ...bridgeTargets, ...SUITE_IDS.flatMap(coreTargets)];
  it.each(all.map((t) => [t.name, t] as const))('%s', async (_name, t) => t.run(), TARGET_TIMEOUT_MS);
});
