/**
 * Bearer credentials for account holders, merchants and operators. A token is
 * `ecash.<credential id>.<secret>`: the id finds the record, the secret (32 random bytes) is
 * stored only as its SHA-256 (a fast hash is enough for a uniformly random 256-bit secret; a slow
 * password hash protects guessable secrets, which these are not) and compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EcashError } from '../../core/index.js';
import type { CredentialRecord, PartyKind } from './storage/index.js';

const TOKEN_RE = /^ecash\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

export interface IssuedCredential {
  record: CredentialRecord;
  /** Shown once to its holder; the bank keeps only the hash. */
  token: string;
}

/** SHA-256 of a string's UTF-8 bytes (credential secrets, deposit request fingerprints). */
export const sha256Text = (text: string): Uint8Array => new Uint8Array(createHash('sha256').update(text, 'utf8').digest());

export function issueCredential(kind: PartyKind, partyId: string, now: number): IssuedCredential {
  const credentialId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return {
    record: { credentialId, kind, partyId, secretHash: sha256Text(secret), createdAt: now, revokedAt: null },
    token: `ecash.${credentialId}.${secret}`,
  };
}

/** The credential id a well-formed token names (for lookups and per-credential rate limits). */
export function credentialIdOf(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

/** Whether `token` is the credential `record` (constant-time on the secret). */
export function tokenMatches(token: string, record: CredentialRecord): boolean {
  const m = TOKEN_RE.exec(token);
  if (m === null || m[1] !== record.credentialId || record.revokedAt !== null) return false;
  return timingSafeEqual(sha256Text(m[2]!), record.secretHash);
}

export function unauthorized(): EcashError {
  return new EcashError(
    'unauthorized',
    'a valid credential is required: send "Authorization: Bearer <token>" with the token the bank issued',
  );
}
