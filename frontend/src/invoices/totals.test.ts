// The form's totals against the server's own test cases (domain/src/invoice.rs).
import { describe, expect, it } from "vitest";
import { computeTotals, parseScaled } from "./totals";

describe("computeTotals", () => {
  it("totals the seed sample at 1000 dollars", () => {
    const t = computeTotals([{ quantity: "10", unitPrice: "100.00" }], "0", "0", 2)!;
    expect(t.lines[0].amount).toBe(100_000);
    expect(t).toMatchObject({ subtotal: 100_000, discount: 0, tax: 0, total: 100_000 });
  });

  it("rounds per line, half up, and sums the rounded lines", () => {
    // 1.5 x 0.33 = 0.495 -> 0.50 per line; 19 % of 0.50 = 0.095 -> 0.10.
    const t = computeTotals([{ quantity: "1.5", unitPrice: "0.33" }, { quantity: "1.5", unitPrice: "0.33" }], "0", "19", 2)!;
    expect(t.lines[0]).toEqual({ amount: 50, discount: 0, tax: 10 });
    expect(t).toMatchObject({ subtotal: 100, tax: 20, total: 120 });
  });

  it("applies the discount before the tax", () => {
    const t = computeTotals([{ quantity: "1", unitPrice: "100" }], "10", "20", 2)!;
    expect(t.lines[0]).toEqual({ amount: 10_000, discount: 1_000, tax: 1_800 });
    expect(t.total).toBe(10_800);
  });

  it("uses the currency's exponent (JPY has none)", () => {
    expect(computeTotals([{ quantity: "3", unitPrice: "333" }], "0", "10", 0)!.total).toBe(1099);
    expect(computeTotals([{ quantity: "1", unitPrice: "1.5" }], "0", "0", 0)).toBeNull();
  });

  it("is null while a field does not parse", () => {
    expect(computeTotals([{ quantity: "two", unitPrice: "1" }], "0", "0", 2)).toBeNull();
    expect(computeTotals([{ quantity: "1", unitPrice: "1.005" }], "0", "0", 2)).toBeNull();
    expect(computeTotals([{ quantity: "1", unitPrice: "-1" }], "0", "0", 2)).toBeNull();
  });

  it("parses decimals exactly", () => {
    expect(parseScaled("0.3333", 4)).toBe(3333n);
    expect(parseScaled("12", 2)).toBe(1200n);
    expect(parseScaled("1.", 2)).toBe(100n);
    expect(parseScaled("", 2)).toBeNull();
  });
});
