import { EcashError } from '../../core/index.js';

/**
 * The origins a terminal lets browser pages call it from, each exactly as a browser sends it in
 * `Origin` (`https://host[:port]`, no path, no wildcard): anything else would never match, or match
 * more than meant, so it is refused at start.
 */
export function corsOrigins(origins: readonly string[]): ReadonlySet<string> {
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) {
      throw new EcashError(
        'bad-cors-origin',
        `"${origin}" is not an origin as browsers send it: scheme, host and port only, e.g. https://till.example or http://192.168.1.20:8080`,
      );
    }
  }
  return new Set(origins);
}
