/**
 * The CPU-heavy half of a deposit, with no I/O so a worker thread can run it: rebuild each wire
 * transcript's binary encoding from its JSON (hex fields, no group element decoded), decode those
 * bytes once with core's strict decoder, check the transcript against the bank's rules one by one
 * (known key, deposit window, the depositor's own merchant id, scope), then batch-verify the
 * survivors. A verified transcript is booked as the very bytes that were decoded and verified: the
 * decoder is strict (one encoding per transcript), so no other form of it can be stored. A bad
 * transcript is rejected with a reason and never fails the rest of the batch.
 *
 * A payment to the depositor refused only for the depositor's scope or the key's deposit window
 * is verified all the same: if it verifies, the holder did pay with the coin, and the bank records
 * the coin as spent (not credited) so that another payment of it is a double spend. Only the
 * payer's card can make a valid payment to the depositor, so a merchant cannot burn someone
 * else's coin this way; a transcript paid to another merchant is refused and recorded nowhere.
 */
import {
  batchVerifyTranscripts,
  canDeposit,
  type DenominationKey,
  decodeTranscript,
  type Group,
  isEcashError,
  toHex,
  type Transcript,
  transcriptBytesFromJson,
  transcriptCoinId,
} from '../../core/index.js';
import type { BankApiErrorCode, KeyCache } from '../bank-client/index.js';

export interface DepositCheckRequest {
  depositor: string;
  /** Scopes of coins the depositor accepts besides general (unscoped) money. */
  scopes: readonly string[];
  now: number;
  transcripts: readonly unknown[];
}

export interface Refusal {
  code: BankApiErrorCode;
  message: string;
}

/** Rejected, or verified: with a `refusal`, a payment that spends its coin but is not credited. */
export type CheckedTranscript =
  | ({ ok: false } & Refusal)
  | { ok: true; keyId: Uint8Array; coin: Uint8Array; transcript: Uint8Array; refusal?: Refusal };

function reject(code: BankApiErrorCode, message: string): CheckedTranscript {
  return { ok: false, code, message };
}

function windowRefusal(key: DenominationKey, now: number): Refusal | undefined {
  if (canDeposit(key, now)) return undefined;
  return now > key.depositUntil
    ? { code: 'key-expired', message: "the coin's key is past its deposit deadline; the bank no longer takes it" }
    : { code: 'key-not-yet-valid', message: "the coin's key is not valid yet" };
}

export function checkDeposits(group: Group, keys: KeyCache, req: DepositCheckRequest): CheckedTranscript[] {
  const out: CheckedTranscript[] = new Array(req.transcripts.length);
  const candidates: { index: number; key: DenominationKey; transcript: Transcript; bytes: Uint8Array; refusal: Refusal | undefined }[] = [];
  req.transcripts.forEach((raw, index) => {
    let bytes: Uint8Array;
    let t: Transcript;
    try {
      bytes = transcriptBytesFromJson(group, raw, `transcripts[${index}]`);
      t = decodeTranscript(group, bytes);
    } catch (e) {
      if (!isEcashError(e)) throw e;
      out[index] = reject('bad-transcript', `${e.message} [${e.code}]`);
      return;
    }
    const key = keys.get(toHex(t.coin.keyId));
    if (key === undefined) {
      out[index] = reject('unknown-key', 'the coin names a denomination key this bank does not have');
      return;
    }
    const closed = windowRefusal(key, req.now);
    if (t.merchantId !== req.depositor) {
      out[index] =
        closed === undefined
          ? reject('wrong-merchant', `the payment was made to "${t.merchantId}", not to the depositor; only the payee may deposit it`)
          : { ok: false, ...closed };
      return;
    }
    const refusal =
      closed ??
      (key.scope !== '' && !req.scopes.includes(key.scope)
        ? { code: 'scope-not-accepted', message: `the coin is of scope "${key.scope}", which this depositor does not accept` }
        : undefined);
    candidates.push({ index, key, transcript: t, bytes, refusal });
  });
  const bad = new Set(
    batchVerifyTranscripts(
      group,
      candidates.map((c) => ({ key: c.key, transcript: c.transcript })),
    ),
  );
  candidates.forEach((c, i) => {
    if (bad.has(i)) {
      out[c.index] =
        c.refusal === undefined
          ? reject('invalid-transcript', 'the coin or the payment response does not verify')
          : { ok: false, ...c.refusal };
      return;
    }
    out[c.index] = {
      ok: true,
      keyId: c.key.keyId,
      coin: transcriptCoinId(group, c.bytes),
      transcript: c.bytes,
      ...(c.refusal === undefined ? {} : { refusal: c.refusal }),
    };
  });
  return out;
}
