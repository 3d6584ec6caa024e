/**
 * Fuzzing what the programs read back from disk: card images (firmware-sim memory) and the bank's
 * key file. Card images are mutated two ways: bytes changed as a damaged file is (the checksums
 * catch that), and records edited then re-sealed with correct checksums, as someone holding a copy
 * of the image can do — which reaches the record parsers, the journal's recovery and the applet.
 * Property: the image opens (and then answers every command with a status word, never a failure
 * no check meant) or is refused with an EcashError and a kebab-case code; `ecash card info`'s
 * reader the same. The key file, as JSON mutated in every field, opens or is refused likewise.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getGroup, u32be, type SuiteId } from '../../core/index.js';
import { CLA_ECASH, ECASH_INS } from '../../wire/index.js';
import { APPLET_DATA_OFFSET, inspectCardImage, JOURNAL_OFFSET, openCard, type EcashCard } from '../../firmware-sim/index.js';
import { computeLayout } from '../../firmware-sim/memory/layout.js';
import { UNEXPECTED_FAILURE } from '../../firmware-sim/runtime.js';
import { KeyFile } from '../../host/bank/keyfile.js';
import { terms } from '../core/fixtures.js';
import { pay, paymentContext, select, send, verifyPin } from '../firmware-sim/helpers.js';
import { CARD_SUITE, walletImage } from './card-fixture.js';
import { countAccepted, decodesOrRefuses, decodesOrRefusesAsync, fuzz, mutatedJson, TARGET_TIMEOUT_MS } from './harness.js';

const FILE = import.meta.url;
const dir = mkdtempSync(join(tmpdir(), 'ecash-fuzz-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CRC = 4;
const FORMAT_1 = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'firmware-sim', 'fixtures', 'format-1.card')));

/** The byte ranges of an image worth editing: header, journal header, and every record. */
function regions(image: Uint8Array, suite: SuiteId): { offset: number; length: number }[] {
  const layout = computeLayout(image.length, APPLET_DATA_OFFSET, getGroup(suite).elementLength);
  return [{ offset: 0, length: JOURNAL_OFFSET }, { offset: JOURNAL_OFFSET, length: 16 }, ...layout.all];
}

/** Recomputes the header's and every record's checksum, as an editor of the file would. */
function reseal(image: Uint8Array, suite: SuiteId): void {
  image.set(u32be(crc32(image.subarray(0, 28))), 28);
  for (const r of regions(image, suite).slice(2)) {
    const rec = image.subarray(r.offset, r.offset + r.length);
    if (rec.every((b) => b === 0)) continue;
    rec.set(u32be(crc32(rec.subarray(0, r.length - CRC))), r.length - CRC);
  }
}

/** A journal holding one committed but unapplied transaction: a write of `bytes` at `offset`. */
function plantJournal(image: Uint8Array, offset: number, bytes: Uint8Array): void {
  const body = new Uint8Array(6 + bytes.length);
  body.set(u32be(offset), 0);
  body[4] = bytes.length >> 8;
  body[5] = bytes.length & 0xff;
  body.set(bytes, 6);
  const header = new Uint8Array(16);
  header.set(u32be(0x4a524e4c), 0);
  header.set(u32be(body.length), 4);
  header.set(u32be(crc32(body, crc32(u32be(body.length)))), 8);
  image.set(body, JOURNAL_OFFSET + 16);
  image.set(header, JOURNAL_OFFSET);
}

interface ImageEdit {
  seed: 'wallet' | 'format-1';
  edits: { region: number; at: number; value: number }[];
  reseal: boolean;
  journal: { offset: number; bytes: Uint8Array } | undefined;
}

const imageEdit: fc.Arbitrary<ImageEdit> = fc.record({
  seed: fc.constantFrom('wallet' as const, 'wallet' as const, 'format-1' as const),
  edits: fc.array(fc.record({ region: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
  reseal: fc.boolean(),
  journal: fc.option(
    fc.record({
      offset: fc.oneof(fc.nat(40_000), fc.integer({ min: APPLET_DATA_OFFSET, max: APPLET_DATA_OFFSET + 2000 })),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
    {
      nil: undefined,
      freq: 4,
    },
  ),
});

/** A terminal's first commands and a payment: each must get a status word (6F00 only when meant). */
async function exercise(card: EcashCard): Promise<void> {
  let refusal: string | undefined;
  card.onExchange((x) => {
    refusal = x.refusal;
  });
  card.powerOn();
  const check = (sw: number) => {
    expect(refusal ?? '', `status ${sw.toString(16)}`).not.toContain(UNEXPECTED_FAILURE);
    if (sw === 0x9000) countAccepted();
  };
  check((await select(card)).sw);
  check((await verifyPin(card)).sw);
  for (const ins of [ECASH_INS.GET_BALANCE, ECASH_INS.READ_LOG, ECASH_INS.WITHDRAW_STATUS]) check((await send(card, CLA_ECASH, ins)).sw);
  const group = getGroup(CARD_SUITE);
  const keys = [new Uint8Array(32).fill(1)];
  check((await pay(card, group, paymentContext('fuzz-image'), 20, keys)).sw);
}

describe('fuzzing stored files', async () => {
  const wallet = await walletImage();
  let n = 0;

  it(
    'card images: edited (and re-sealed) images open and answer, or are refused with a code',
    () =>
      fuzz(
        FILE,
        'card image',
        fc.asyncProperty(imageEdit, async (e) => {
          const image = (e.seed === 'wallet' ? wallet.image : FORMAT_1).slice();
          const rs = regions(image, CARD_SUITE);
          for (const ed of e.edits) {
            const r = rs[ed.region % rs.length]!;
            image[r.offset + (ed.at % r.length)] = ed.value;
          }
          if (e.journal !== undefined) plantJournal(image, e.journal.offset, e.journal.bytes);
          if (e.reseal) reseal(image, CARD_SUITE);
          const path = join(dir, `image-${n++}.card`);
          writeFileSync(path, image);
          try {
            decodesOrRefuses(() => inspectCardImage(path));
            await decodesOrRefusesAsync(
              async () => openCard(path),
              async (card) => {
                try {
                  await exercise(card);
                } finally {
                  card.close();
                }
              },
            );
          } finally {
            rmSync(path, { force: true });
          }
        }),
        60,
      ),
    TARGET_TIMEOUT_MS,
  );

  it(
    'the bank key file: edited files open or are refused with a code',
    async () => {
      const passphrase = 'correct horse battery';
      const path = join(dir, 'bank.keys');
      KeyFile.create(path, passphrase, 'ristretto255-sha512', [terms(500), terms(100, 'EUR', 'transit')]);
      const valid = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      const edited = join(dir, 'edited.keys');
      await fuzz(
        FILE,
        'bank key file',
        fc.property(
          fc.oneof(
            mutatedJson([valid]).map((v) => JSON.stringify(v) ?? ''),
            fc.string({ maxLength: 200 }),
          ),
          (text) => {
            writeFileSync(edited, text);
            decodesOrRefuses(() => KeyFile.publicKeysOf(edited));
            decodesOrRefuses(() => KeyFile.open(edited, passphrase).loadSecrets());
          },
        ),
        40,
      );
    },
    TARGET_TIMEOUT_MS,
  );
});
