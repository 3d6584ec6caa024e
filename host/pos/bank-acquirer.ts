/**
 * The POS terminal's acquirer over the bank's HTTP API: keys from /v1/parameters, deposits to
 * /v1/deposits under the merchant's credential, the batch id as the bank's idempotency key.
 */
import type { Group } from '../../core/index.js';
import { type BankClient, ParsedParameters } from '../bank-client/index.js';
import type { AcquirerBank, DepositOutcome } from './acquirer.js';

export function httpAcquirer(client: BankClient): AcquirerBank {
  const parsed = new ParsedParameters();
  let group: Group | undefined;
  const fetchParameters = async () => {
    const p = parsed.update(await client.parameters());
    group = p.group;
    return p;
  };
  return {
    async group() {
      return group ?? (await fetchParameters()).group;
    },
    async denominationKeys() {
      return (await fetchParameters()).keys;
    },
    async deposit(batchId: string, transcripts: readonly Uint8Array[]): Promise<DepositOutcome[]> {
      return client.depositTranscripts(group ?? (await fetchParameters()).group, batchId, transcripts);
    },
  };
}
