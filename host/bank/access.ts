/**
 * Who may call which route of the bank's API, decided in one place. Every route declares one of
 * the rules of ACCESS in its config; the app's two hooks (http.ts) apply it: `authenticate` before
 * validation (a missing or bad credential is 401 before anything else is looked at), `authorize`
 * after it (403 for a credential of the wrong role, or of another account or merchant). A route
 * without a rule is refused: a new route is closed until it says who may call it. The service
 * takes the parties these rules let through, typed by their role, and checks no roles itself.
 */
import type { FastifyRequest } from 'fastify';
import { EcashError } from '../../core/index.js';
import { unauthorized } from './credentials.js';
import type { Party } from './service.js';

export type PartyKind = Party['kind'];

/** A route's rule: no credential, or a credential of one of `roles` (of the party the path names, with `owner`). */
export type Access<K extends PartyKind = PartyKind> =
  | { credential: false }
  | {
      credential: true;
      roles: readonly K[];
      /**
       * The path parameter naming an account or a merchant: a party of that kind must be that one
       * (an operator may read them all).
       */
      owner?: { param: 'accountId'; kind: 'account' } | { param: 'merchantId'; kind: 'merchant' };
      /** What the refusal says this credential may not do. */
      refusal: string;
    };

const withCredential = <K extends PartyKind>(
  roles: readonly K[],
  refusal: string,
  owner?: { param: 'accountId'; kind: 'account' } | { param: 'merchantId'; kind: 'merchant' },
): Access<K> => ({
  credential: true,
  roles,
  refusal,
  ...(owner === undefined ? {} : { owner }),
});

export const ACCESS = {
  /** Health, parameters, account opening. */
  anyone: { credential: false } as Access<never>,
  /** Any valid credential (what it sees depends on its party). */
  anyParty: withCredential(['account', 'merchant', 'operator'], 'do this'),
  operator: (what: string) => withCredential(['operator'], `${what}: it needs an operator credential`),
  accountHolder: withCredential(['account'], "withdraw: withdrawals belong to an account; use the account holder's credential"),
  depositor: withCredential(['account', 'merchant'], 'deposit: operators do not deposit; use a merchant or account credential'),
  accountOrOperator: withCredential(['account', 'operator'], "read this account: use its own credential or an operator's", {
    param: 'accountId',
    kind: 'account',
  }),
  merchantOrOperator: withCredential(['merchant', 'operator'], "read this merchant: use its own credential or an operator's", {
    param: 'merchantId',
    kind: 'merchant',
  }),
} as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (ACCESS); required of every route. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The authenticated caller: set by the rate limiter or by `authenticate`; null without one. */
    party: Party | null;
  }
}

function ruleOf(req: FastifyRequest): Access {
  const access = req.routeOptions.config.access;
  if (access === undefined) throw new EcashError('internal', `route ${req.routeOptions.url ?? ''} declares no access rule`);
  return access;
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined || !h.startsWith('Bearer ')) return undefined;
  return h.slice(7).trim();
}

/** The credential a request carries, as its party (cached by the service); 401 if it has none that holds. */
export async function partyOfRequest(req: FastifyRequest, authenticate: (token: string | undefined) => Promise<Party>): Promise<Party> {
  req.party ??= await authenticate(bearer(req));
  return req.party;
}

/** preValidation: routes that need a credential authenticate it before their input is validated. */
export function authenticateHook(authenticate: (token: string | undefined) => Promise<Party>) {
  return async (req: FastifyRequest): Promise<void> => {
    if (ruleOf(req).credential) await partyOfRequest(req, authenticate);
  };
}

/** preHandler, once the input is valid: the caller's role, and that it is the party the path names. */
export async function authorize(req: FastifyRequest): Promise<void> {
  const access = ruleOf(req);
  if (!access.credential) return;
  const party = req.party;
  if (party === null) throw unauthorized();
  const refused = () => new EcashError('forbidden', `this credential may not ${access.refusal}`);
  if (!access.roles.includes(party.kind)) throw refused();
  if (access.owner !== undefined && party.kind === access.owner.kind) {
    const named = (req.params as Record<string, string>)[access.owner.param];
    const own = party.kind === 'account' ? party.accountId : party.kind === 'merchant' ? party.merchantId : undefined;
    if (named !== own) throw refused();
  }
}

/** The caller of a route whose rule `access` let it through, typed by the rule's roles. */
export function callerOf<K extends PartyKind>(req: FastifyRequest, access: Access<K>): Extract<Party, { kind: K }> {
  const party = req.party;
  // The hooks ran (ruleOf refuses routes without a rule): this holds unless the route's config and
  // the rule passed here differ, a bug.
  if (party === null || !access.credential || !(access.roles as readonly PartyKind[]).includes(party.kind)) {
    throw new EcashError('internal', "a route's handler asked for a caller its access rule does not admit");
  }
  return party as Extract<Party, { kind: K }>;
}
