// Money as the API sends it: integer minor units plus an ISO 4217 code, shown with Intl.

/** Digits after the point in `currency` (2 for EUR, 0 for JPY), as Intl knows them. */
export function exponent(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** `123456` EUR is `€1,234.56`. */
export function formatMoney(minor: number, currency: string): string {
  const exp = exponent(currency);
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).format(minor / 10 ** exp);
  } catch {
    return `${(minor / 10 ** exp).toFixed(exp)} ${currency}`;
  }
}

/** Minor units as a plain decimal in major units, for form fields: `250000` is `2500.00`. */
export function toDecimal(minor: number, currency: string): string {
  const exp = exponent(currency);
  return (minor / 10 ** exp).toFixed(exp);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  return d.toLocaleDateString("en-GB", { year: "numeric", month: "short", day: "numeric", timeZone: iso.length === 10 ? "UTC" : undefined });
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}
