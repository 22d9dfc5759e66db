//! Invoice arithmetic and statuses, shared by the API (which validates and shows totals) and
//! the workflow (which tracks what is due).
//!
//! The rule (shared/DESIGN.md): each line's net amount is `quantity x unit price` rounded half
//! away from zero to the minor unit; the discount and the tax of a line are rounded the same
//! way per line (tax on the discounted net); invoice totals are sums of rounded line figures.

use serde::{Deserialize, Serialize};

use crate::kinds::named_enum;

use crate::money::{Decimal4, MAX_AMOUNT_MINOR, MoneyError, mul_div_round};

named_enum!(
    /// The lifecycle states of an invoice (see the lifecycle in shared/DESIGN.md).
    InvoiceStatus, "invoice status" {
        /// Editable; waits for `finalize`.
        Draft => "draft",
        /// Finalized (numbered, frozen); PDF and email under way.
        Open => "open",
        /// The invoice email was accepted by the provider.
        Sent => "sent",
        /// Past its due date with something still due.
        Overdue => "overdue",
        /// Some, not all, of the total was paid.
        PartiallyPaid => "partially_paid",
        Paid => "paid",
        Void => "void",
        /// A step failed for good; waits for ops `retry` or `void`.
        NeedsAttention => "needs_attention",
        /// A paid invoice whose payment was refunded in full.
        Refunded => "refunded",
    }
);

impl InvoiceStatus {
    /// No further payments, reminders or emails can follow.
    pub fn is_final(self) -> bool {
        matches!(self, InvoiceStatus::Paid | InvoiceStatus::Void | InvoiceStatus::Refunded)
    }
}

/// What a line contributes before rounding: quantity and unit price (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInput {
    pub quantity: Decimal4,
    pub unit_price: i64,
}

/// A line's rounded figures, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineAmounts {
    /// quantity x unit price, rounded.
    pub amount: i64,
    pub discount: i64,
    pub tax: i64,
}

/// Invoice totals in minor units: `total = subtotal - discount + tax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

/// Computes every line's figures and the totals. `discount_percent` and `tax_percent` are
/// percentages (`10` is 10 %). Refuses results above [`MAX_AMOUNT_MINOR`].
pub fn compute_totals(
    lines: &[LineInput],
    discount_percent: Decimal4,
    tax_percent: Decimal4,
) -> Result<(Vec<LineAmounts>, Totals), MoneyError> {
    // Rates are scaled by 10^4 and are percentages: divide by 10^6 in all.
    const RATE_DENOMINATOR: i128 = 1_000_000;
    let mut out = Vec::with_capacity(lines.len());
    let (mut subtotal, mut discount, mut tax) = (0_i128, 0_i128, 0_i128);
    for line in lines {
        let amount =
            mul_div_round(i128::from(line.quantity.scaled()), i128::from(line.unit_price), 10_000);
        let line_discount =
            mul_div_round(amount, i128::from(discount_percent.scaled()), RATE_DENOMINATOR);
        let line_tax = mul_div_round(
            amount - line_discount,
            i128::from(tax_percent.scaled()),
            RATE_DENOMINATOR,
        );
        subtotal += amount;
        discount += line_discount;
        tax += line_tax;
        let fits = |v: i128| i64::try_from(v).ok().filter(|v| (0..=MAX_AMOUNT_MINOR).contains(v));
        out.push(LineAmounts {
            amount: fits(amount).ok_or(MoneyError::OutOfRange)?,
            discount: fits(line_discount).ok_or(MoneyError::OutOfRange)?,
            tax: fits(line_tax).ok_or(MoneyError::OutOfRange)?,
        });
    }
    let total = subtotal - discount + tax;
    let fits = |v: i128| {
        i64::try_from(v)
            .ok()
            .filter(|v| (0..=MAX_AMOUNT_MINOR).contains(v))
            .ok_or(MoneyError::OutOfRange)
    };
    let totals = Totals {
        subtotal: fits(subtotal)?,
        discount: fits(discount)?,
        tax: fits(tax)?,
        total: fits(total)?,
    };
    Ok((out, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal4 {
        s.parse().unwrap()
    }

    fn line(q: &str, price: i64) -> LineInput {
        LineInput { quantity: d(q), unit_price: price }
    }

    #[test]
    fn the_seed_sample_totals_1000_dollars() {
        let (lines, totals) =
            compute_totals(&[line("10", 10_000)], Decimal4::ZERO, Decimal4::ZERO).unwrap();
        assert_eq!(lines[0].amount, 100_000);
        assert_eq!(totals, Totals { subtotal: 100_000, discount: 0, tax: 0, total: 100_000 });
    }

    #[test]
    fn rounding_is_per_line_and_totals_are_sums_of_rounded_lines() {
        // 1.5 x 0.33 = 0.495 -> 0.50 per line; two lines sum to 1.00 (not round(0.99)).
        let lines = [line("1.5", 33), line("1.5", 33)];
        let (amounts, totals) = compute_totals(&lines, Decimal4::ZERO, d("19")).unwrap();
        assert_eq!(amounts[0].amount, 50);
        assert_eq!(totals.subtotal, 100);
        // 19 % of 0.50 = 0.095 -> 0.10 per line.
        assert_eq!(amounts[0].tax, 10);
        assert_eq!(totals.tax, 20);
        assert_eq!(totals.total, 120);
    }

    #[test]
    fn discount_applies_before_tax() {
        let (amounts, totals) = compute_totals(&[line("1", 10_000)], d("10"), d("20")).unwrap();
        assert_eq!(amounts[0], LineAmounts { amount: 10_000, discount: 1_000, tax: 1_800 });
        assert_eq!(totals.total, 10_800);
    }

    #[test]
    fn overflow_is_refused() {
        assert_eq!(
            compute_totals(&[line("100000000", MAX_AMOUNT_MINOR)], Decimal4::ZERO, Decimal4::ZERO),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn statuses_round_trip() {
        for &s in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
