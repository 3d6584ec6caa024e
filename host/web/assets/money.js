// Minor units written as everywhere else in the system (core's formatAmount): 1234 EUR → "12.34 EUR",
// 500 JPY → "500 JPY". The currency's minor digits are ISO 4217's, which the browser's Intl carries.
export function money(minor, currency) {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const unit = 10 ** digits;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')} ${currency}`;
}
