// Minor units as the currency writes them (EUR 1234 → €12.34, JPY 1234 → ¥1,234), in the browser's locale.
export function money(minor, currency) {
  const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return fmt.format(minor / 10 ** fmt.resolvedOptions().maximumFractionDigits);
}
