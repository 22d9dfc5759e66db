// Live totals in the invoice form, computed exactly as the server does (domain/src/invoice.rs):
// per line, amount = quantity x unit price rounded half-up to minor units, then the discount
// on the amount, then the tax on (amount - discount), each rounded half-up; totals are sums of
// the rounded line figures. Exact integer arithmetic (BigInt), never floats.

export interface LineDraft {
  quantity: string;
  unitPrice: string;
}

export interface Totals {
  subtotal: number;
  discount: number;
  tax: number;
  total: number;
  lines: { amount: number; discount: number; tax: number }[];
}

/** A non-negative decimal scaled by 10^places, or null when it is not one. */
export function parseScaled(input: string, places: number): bigint | null {
  const s = input.trim();
  if (!/^\d*(\.\d*)?$/.test(s) || s === "" || s === ".") return null;
  const [int, frac = ""] = s.split(".");
  if (frac.length > places) return null;
  return BigInt(int || "0") * 10n ** BigInt(places) + BigInt((frac + "0".repeat(places)).slice(0, places) || "0");
}

/** round(a x b / d), half up, for non-negative values. */
function mulDivRound(a: bigint, b: bigint, d: bigint): bigint {
  return (a * b * 2n + d) / (2n * d);
}

/**
 * Totals for the lines, or null while a field does not parse. `exp` is the currency's exponent,
 * from the server's currency table (the browser's Intl gets some wrong).
 */
export function computeTotals(lines: LineDraft[], discountPercent: string, taxPercent: string, exp: number): Totals | null {
  const discount = parseScaled(discountPercent || "0", 4);
  const tax = parseScaled(taxPercent || "0", 4);
  if (discount === null || tax === null) return null;
  let subtotal = 0n, discountTotal = 0n, taxTotal = 0n;
  const out: Totals["lines"] = [];
  for (const line of lines) {
    const quantity = parseScaled(line.quantity, 4);
    const unitPrice = parseScaled(line.unitPrice, exp);
    if (quantity === null || unitPrice === null) return null;
    const amount = mulDivRound(quantity, unitPrice, 10_000n);
    const lineDiscount = mulDivRound(amount, discount, 1_000_000n);
    const lineTax = mulDivRound(amount - lineDiscount, tax, 1_000_000n);
    subtotal += amount;
    discountTotal += lineDiscount;
    taxTotal += lineTax;
    out.push({ amount: Number(amount), discount: Number(lineDiscount), tax: Number(lineTax) });
  }
  return {
    subtotal: Number(subtotal),
    discount: Number(discountTotal),
    tax: Number(taxTotal),
    total: Number(subtotal - discountTotal + taxTotal),
    lines: out,
  };
}
