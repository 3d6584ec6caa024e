/**
 * Whether a PIN or PUK shows in some output. A PIN is digits, and output holds other digits
 * (millisecond timestamps, ids): "2468" is inside "1796668782468". A leaked PIN stands as a
 * number of its own, so only digits with no digit on either side count.
 */
export function digitSecretsIn(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => new RegExp(`(?<![0-9])${s}(?![0-9])`).test(text));
}
