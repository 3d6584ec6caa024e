// A page's session with the API it is served beside: the API's secret is traded once for an
// HttpOnly session cookie (POST /v1/session) and forgotten; the page's later calls and its
// EventSource carry the cookie.

/** Opens the session: null when done, else what to tell the user (`who` names the server). */
export async function openSession(secret, who) {
  const r = await fetch('/v1/session', { method: 'POST', headers: { authorization: `Bearer ${secret}` }, credentials: 'same-origin' });
  if (r.status === 204) return null;
  const body = await r.json().catch(() => null);
  return body?.error ? body.error.message : `${who} answered ${r.status}`;
}

/**
 * The page's session as `probe` (a GET of the API) finds it: `live`, `ended` (refused: a restarted
 * server forgets sessions), or `unknown` (no answer: the server may be restarting).
 */
export async function probeSession(probe) {
  const r = await fetch(probe, { credentials: 'same-origin' }).catch(() => null);
  if (r === null) return 'unknown';
  return r.status === 200 ? 'live' : r.status === 401 ? 'ended' : 'unknown';
}
