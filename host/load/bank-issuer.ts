/**
 * The load terminal's issuer over the bank's HTTP API, on behalf of one account holder (the
 * client carries the holder's credential): withdrawal sessions under /v1/withdrawals and the
 * holder's own deposits (rebalancing) under /v1/deposits with the account's depositor id.
 */
import { encodeTranscript, type Group, toHex, type Transcript } from '../../core/index.js';
import { type BankClient, decodeElementHex, decodeScalarHex, ParsedParameters } from '../bank-client/index.js';
import type { IssuerBank, WithdrawalStart } from './load-terminal.js';

export async function httpIssuer(client: BankClient, accountId: string): Promise<IssuerBank> {
  const parsed = new ParsedParameters();
  const first = await client.parameters();
  let current = parsed.update(first);
  const group: Group = current.group;
  const depositorId = `${first.accountDepositorPrefix}${accountId}`;
  const keyOf = async (keyIdHex: string) => {
    let key = current.keys.find((k) => toHex(k.keyId) === keyIdHex);
    if (key === undefined) {
      current = parsed.update(await client.parameters());
      key = current.keys.find((k) => toHex(k.keyId) === keyIdHex);
    }
    if (key === undefined) throw new Error(`the bank started a session under key ${keyIdHex}, which it does not publish`);
    return key;
  };
  return {
    group: () => Promise.resolve(group),
    async denominationKeys() {
      current = parsed.update(await client.parameters());
      return current.keys;
    },
    async startWithdrawal(keyId: Uint8Array): Promise<WithdrawalStart> {
      const s = await client.startWithdrawal(toHex(keyId));
      return {
        sessionId: s.sessionId,
        key: await keyOf(s.keyId),
        z: decodeElementHex(group, s.z, 'z'),
        offer: { a: decodeElementHex(group, s.a, 'a'), b: decodeElementHex(group, s.b, 'b') },
      };
    },
    async answerWithdrawal(sessionId: string, c: bigint): Promise<bigint> {
      const { r } = await client.answerWithdrawal(sessionId, toHex(group.scalars.encode(c)));
      return decodeScalarHex(group, r, 'r');
    },
    depositToAccount: (batchId: string, transcripts: readonly Transcript[]) =>
      client.depositTranscripts(
        group,
        batchId,
        transcripts.map((t) => encodeTranscript(group, t)),
      ),
    accountMerchantId: () => depositorId,
  };
}
