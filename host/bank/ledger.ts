/**
 * Names of the ledger's accounts. Amounts are credit-positive: what the bank owes a holder or a
 * merchant is positive, the bank's cash (an asset) is negative, and every entry sums to zero.
 */
import { toHex } from '../../core/index.js';

/** The bank's cash or settlement account: debited when an operator takes money in. */
export const CASH_ACCOUNT = 'cash';
/** The bank's fee income. */
export const FEES_ACCOUNT = 'fees';

export const holderAccount = (accountId: string): string => `holder:${accountId}`;
export const merchantAccount = (merchantId: string): string => `merchant:${merchantId}`;
/** The liability for e-cash issued under one key and not yet deposited. */
export const outstandingAccount = (keyId: Uint8Array): string => `outstanding:${toHex(keyId)}`;

/**
 * The merchant id under which an account holder deposits coins back to its own account
 * (rebalancing): the card binds its payment to this id as to any merchant's.
 */
export const ACCOUNT_DEPOSITOR_PREFIX = 'account:';
export const accountDepositorId = (accountId: string): string => `${ACCOUNT_DEPOSITOR_PREFIX}${accountId}`;
