// Amounts in the server's exponents: where the browser's Intl disagrees with ISO 4217 (it gives
// HUF, IDR, COP and IQD no minor unit), the server's table wins; Intl keeps symbol and grouping.
import { describe, expect, it } from "vitest";
import { minorToDecimal, moneyFormat } from "./money";
import { CURRENCIES } from "./testing/fakes";

const money = moneyFormat(CURRENCIES);
/** Intl puts a no-break space after a currency code; plain spaces read better here. */
const format = (minor: number, currency: string) => money.format(minor, currency).replace(/\u00a0/g, " ");

describe("moneyFormat", () => {
  it("gives currencies the server's decimals where Intl has none", () => {
    expect(format(123456, "HUF")).toBe("HUF 1,234.56");
    expect(format(123456, "IDR")).toBe("IDR 1,234.56");
    expect(format(123456, "COP")).toBe("COP 1,234.56");
  });

  it("gives three decimals where ISO 4217 has three", () => {
    expect(format(123456, "IQD")).toBe("IQD 123.456");
    expect(format(5, "IQD")).toBe("IQD 0.005");
  });

  it("gives none where there are none, and keeps symbols and grouping", () => {
    expect(format(123456, "JPY")).toBe("¥123,456");
    expect(format(123456, "EUR")).toBe("€1,234.56");
    expect(format(-10, "EUR")).toBe("-€0.10");
    expect(format(100_000_000_00, "USD")).toBe("$100,000,000.00");
  });

  it("shows minor units, marked as such, for a code the server does not know", () => {
    expect(money.exponent("XYZ")).toBeUndefined();
    expect(format(123456, "XYZ")).toBe("XYZ 123,456 (minor units)");
    expect(money.toDecimal(123456, "XYZ")).toBe("");
  });

  it("puts amounts in form fields with the server's decimals", () => {
    expect(money.toDecimal(123456, "HUF")).toBe("1234.56");
    expect(money.toDecimal(123456, "IQD")).toBe("123.456");
    expect(money.toDecimal(123456, "JPY")).toBe("123456");
    expect(money.exponent("IDR")).toBe(2);
  });

  it("lists the server's codes, sorted", () => {
    expect(moneyFormat([{ code: "USD", exponent: 2 }, { code: "EUR", exponent: 2 }]).codes).toEqual(["EUR", "USD"]);
  });
});

describe("minorToDecimal", () => {
  it("is exact, with leading zeros and signs", () => {
    expect(minorToDecimal(5, 2)).toBe("0.05");
    expect(minorToDecimal(-5, 3)).toBe("-0.005");
    expect(minorToDecimal(0, 0)).toBe("0");
    expect(minorToDecimal(900_719_925_474_099, 2)).toBe("9007199254740.99");
  });
});
