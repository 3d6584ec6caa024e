/**
 * The CPU-heavy half of a deposit, with no I/O so a worker thread can run it: parse each wire
 * transcript with core's strict decoder, check it against the bank's rules one by one (known key,
 * deposit window, the depositor's own merchant id, scope), then batch-verify the survivors. A bad
 * transcript is rejected with a reason and never fails the rest of the batch.
 */
import {
  batchVerifyTranscripts,
  canDeposit,
  type DenominationKey,
  encodeTranscript,
  type Group,
  isEcashError,
  toHex,
  type Transcript,
  transcriptCoinId,
  transcriptFromJson,
} from '../../core/index.js';
import { KeyCache } from './public-parameters.js';

export interface DepositCheckRequest {
  depositor: string;
  /** Scopes of coins the depositor accepts besides general (unscoped) money. */
  scopes: readonly string[];
  now: number;
  transcripts: readonly unknown[];
}

export type CheckedTranscript =
  | { ok: false; code: string; message: string }
  | { ok: true; keyId: Uint8Array; coin: Uint8Array; transcript: Uint8Array };

function reject(code: string, message: string): CheckedTranscript {
  return { ok: false, code, message };
}

export function checkDeposits(group: Group, keys: KeyCache, req: DepositCheckRequest): CheckedTranscript[] {
  const out: CheckedTranscript[] = new Array(req.transcripts.length);
  const candidates: { index: number; key: DenominationKey; transcript: Transcript }[] = [];
  req.transcripts.forEach((raw, index) => {
    let t: Transcript;
    try {
      t = transcriptFromJson(group, raw, `transcripts[${index}]`);
    } catch (e) {
      if (!isEcashError(e)) throw e;
      out[index] = reject('bad-transcript', `${e.message} [${e.code}]`);
      return;
    }
    const key = keys.get(toHex(t.coin.keyId));
    if (key === undefined) {
      out[index] = reject('unknown-key', 'the coin names a denomination key this bank does not have');
    } else if (!canDeposit(key, req.now)) {
      out[index] = req.now > key.depositUntil
        ? reject('key-expired', "the coin's key is past its deposit deadline; the bank no longer takes it")
        : reject('key-not-yet-valid', "the coin's key is not valid yet");
    } else if (t.merchantId !== req.depositor) {
      out[index] = reject('wrong-merchant', `the payment was made to "${t.merchantId}", not to the depositor; only the payee may deposit it`);
    } else if (key.scope !== '' && !req.scopes.includes(key.scope)) {
      out[index] = reject('scope-not-accepted', `the coin is of scope "${key.scope}", which this depositor does not accept`);
    } else {
      candidates.push({ index, key, transcript: t });
    }
  });
  const bad = new Set(batchVerifyTranscripts(group, candidates.map((c) => ({ key: c.key, transcript: c.transcript }))));
  candidates.forEach((c, i) => {
    if (bad.has(i)) {
      out[c.index] = reject('invalid-transcript', 'the coin or the payment response does not verify');
      return;
    }
    const transcript = encodeTranscript(group, c.transcript);
    out[c.index] = { ok: true, keyId: c.key.keyId, coin: transcriptCoinId(group, transcript), transcript };
  });
  return out;
}
