/**
 * Upgrades a card image of an earlier format to the current one, keeping every coin, secret and
 * record (docs/card.md, "Image formats"). A pure function, bytes in and bytes out: `openCard`
 * writes the result over the file at once (a new file renamed over the old, so a crash leaves one
 * or the other), `inspectCardImage` reads it without writing.
 *
 * Format 1 → 2: the account record gains the cumulative no-PIN amount (u64, 0 after the upgrade)
 * at its end. Rather than move every record after it (and lose a coin slot on a full card), the
 * journal gives up those 8 bytes: the account record starts 8 bytes earlier and ends where it
 * did, and every other record keeps its place. The journal still holds the largest transaction.
 */
import { crc32 } from 'node:zlib';
import { concatBytes, EcashError, getGroup, SUITE_IDS, u32be } from '../../core/index.js';
import { imageHeader, IMAGE_FORMAT_VERSION, PersistentMemory } from './journal.js';
import { ACCOUNT_AFTER_I, ACCOUNT_PERSONALISED, accountLength } from './layout.js';
import { RamNvm } from './nvm.js';

/** What format 2 added to the account record: the u64 cumulative no-PIN amount. */
const NO_PIN_SPENT_BYTES = ACCOUNT_AFTER_I.end - ACCOUNT_AFTER_I.noPinSpent;
const CRC = 4;

/** The image in the current format, or undefined when it already is (foreign or damaged images throw, as on load). */
export function upgradeImage(image: Uint8Array): Uint8Array | undefined {
  const ram = new RamNvm(image);
  // Finishes or discards an interrupted transaction on this copy first, as a power-up would.
  const memory = PersistentMemory.loadAnyVersion(ram);
  if (memory.version === IMAGE_FORMAT_VERSION) return undefined;
  const bytes = memory.read(0, memory.size);
  const oldStart = memory.dataOffset;
  const newStart = oldStart - NO_PIN_SPENT_BYTES;
  const out = bytes.slice();
  out.set(imageHeader(memory.size, memory.journalCapacity - NO_PIN_SPENT_BYTES), 0);
  const state = bytes[oldStart];
  if (state === 0) {
    // Factory-fresh: an empty account record, now starting in what was the journal's last bytes.
    out.fill(0, newStart, oldStart);
    return out;
  }
  const suite = SUITE_IDS[bytes[oldStart + 1]! - 1];
  if (state !== ACCOUNT_PERSONALISED || suite === undefined)
    throw new EcashError('card-image-corrupt', 'the card image has an unknown account state: the file is damaged');
  const oldLength = accountLength(getGroup(suite).elementLength) - NO_PIN_SPENT_BYTES;
  const body = bytes.subarray(oldStart, oldStart + oldLength - CRC);
  if (crc32(body) !== new DataView(bytes.buffer, bytes.byteOffset + oldStart + oldLength - CRC, CRC).getUint32(0, false)) {
    throw new EcashError('card-image-corrupt', `the card image is damaged (record at byte ${oldStart} fails its checksum)`);
  }
  const newBody = concatBytes(body, new Uint8Array(NO_PIN_SPENT_BYTES));
  out.set(concatBytes(newBody, u32be(crc32(newBody))), newStart);
  return out;
}
