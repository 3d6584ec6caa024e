/**
 * What the terminal needs from its bank (the acquirer): the denomination keys to verify coins
 * offline, and deposits of transcript batches under an idempotency key. The bank's HTTP client
 * provides it (see `bankAcquirer`); the terminal depends on nothing else of the bank.
 */
import type { DenominationKey, Group } from '../../core/index.js';
import type { SettlementOutcome } from './journal.js';

export interface DepositOutcome {
  outcome: SettlementOutcome;
  /** Why a transcript was rejected (the bank's stable code) or what the double spend names. */
  code?: string;
  message?: string;
}

export interface AcquirerBank {
  /** The bank's group (its suite decides every encoding). */
  group(): Promise<Group>;
  /** The denomination keys coins may be deposited under now. */
  denominationKeys(): Promise<DenominationKey[]>;
  /**
   * Deposits a batch; `batchId` is its idempotency key (a resent batch is answered from the
   * bank's record of the first). One outcome per transcript, in order. Without a per-coin answer it
   * throws an EcashError with the bank's code (`bank-unreachable` when none came) and, when the
   * bank answered, its HTTP `status`: settlement-verdicts.ts decides what either means. The
   * transcripts are in core's binary encoding, the bytes the journal holds: they go to the bank
   * as they are, nothing decodes them on the way.
   */
  deposit(batchId: string, transcripts: readonly Uint8Array[]): Promise<DepositOutcome[]>;
}
