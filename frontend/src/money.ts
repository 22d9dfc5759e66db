// Money as the API sends it: integer minor units plus an ISO 4217 code. How many of those
// units make one (the exponent) comes from the server's currency table only: the browser's Intl
// disagrees with ISO 4217 for a dozen and a half currencies (HUF, IDR, COP, IQD, ...), which
// would show amounts 100 or 1000 times too large. Intl still gives the symbol and grouping.
import type { Schemas } from "./api/client";

type CurrencyInfo = Schemas["CurrencyInfo"];

export interface Money {
  /** Digits after the point (2 for EUR and HUF, 0 for JPY, 3 for IQD); undefined for a code
   *  the server does not accept. */
  exponent(currency: string): number | undefined;
  /** `123456` HUF is `HUF 1,234.56`. An unknown code shows its minor units, marked as such,
   *  rather than a guess that may be off by a factor of 100. */
  format(minor: number, currency: string): string;
  /** Minor units as a plain decimal for form fields: `250000` EUR is `2500.00`; empty for an
   *  unknown code. */
  toDecimal(minor: number, currency: string): string;
  /** Every code the server accepts, sorted. */
  codes: readonly string[];
}

/** Minor units as an exact decimal string in major units (no floating point). */
export function minorToDecimal(minor: number, exponent: number): string {
  const sign = minor < 0 ? "-" : "";
  const digits = String(Math.abs(Math.trunc(minor))).padStart(exponent + 1, "0");
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Formatting with the server's table of `currencies`. */
export function moneyFormat(currencies: readonly CurrencyInfo[], locale = "en"): Money {
  const exponents = new Map(currencies.map((c) => [c.code, c.exponent]));
  const formats = new Map<string, Intl.NumberFormat>();
  const formatFor = (currency: string, exponent: number) => {
    let format = formats.get(currency);
    if (!format) {
      format = new Intl.NumberFormat(locale, {
        style: "currency",
        currency,
        minimumFractionDigits: exponent,
        maximumFractionDigits: exponent,
      });
      formats.set(currency, format);
    }
    return format;
  };
  return {
    exponent: (currency) => exponents.get(currency),
    format(minor, currency) {
      const exponent = exponents.get(currency);
      if (exponent === undefined) return `${currency} ${minor.toLocaleString(locale)} (minor units)`;
      try {
        return formatFor(currency, exponent).format(minor / 10 ** exponent);
      } catch {
        // a code Intl cannot read (not three letters): the figure is still right
        return `${minorToDecimal(minor, exponent)} ${currency}`;
      }
    },
    toDecimal(minor, currency) {
      const exponent = exponents.get(currency);
      return exponent === undefined ? "" : minorToDecimal(minor, exponent);
    },
    codes: [...exponents.keys()].sort(),
  };
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
