//! `sample_document`: a realistic invoice for tests, benchmarks and template previews, with euro
//! amounts, German and Spanish text and a mix of short and long line descriptions.

use super::document::{Adjustment, InvoiceDocument, InvoiceLine, Labels, Party};

/// (description, quantity in hundredths, unit price in cents). Line amounts are exact in cents.
const ITEMS: [(&str, i64, i64); 6] = [
    (
        "Backend development: invoice workflow engine on Temporal, sprint review included",
        1600,
        9_500,
    ),
    (
        "Beratung: Datenschutz-Folgenabschätzung gemäß DSGVO Art. 35 für die Zahlungsabwicklung",
        450,
        12_000,
    ),
    (
        "Diseño de la página de pago alojada, con revisiones junto al equipo de Peña Ibáñez",
        800,
        8_500,
    ),
    ("Hosting, monitoring and on-call support, production cluster (monthly)", 100, 149_900),
    ("Schulung für die Buchhaltung: Mahnwesen, Gutschriften und Teilzahlungen", 250, 6_000),
    (
        "Migration of fourteen years of historical invoices from the legacy ERP, including data \
         cleansing, de-duplication of customer records, mapping of German, Austrian and Spanish \
         tax codes to the new chart of accounts, and reconciliation reports for the auditors",
        100,
        980_000,
    ),
];

const DISCOUNT_PERCENT: i64 = 5;
const VAT_PERCENT: i64 = 19;

/// A plausible invoice with `lines` lines (the six sample items repeat, numbered), from a Berlin
/// seller to a Madrid client. For tests, benchmarks and previews only: the totals are computed
/// here with the same half-up rounding the domain uses, but nothing checks them.
pub fn sample_document(lines: usize) -> InvoiceDocument {
    let mut subtotal = 0;
    let lines: Vec<InvoiceLine> = (0..lines)
        .map(|i| {
            let (description, hundredths, unit_cents) = ITEMS[i % ITEMS.len()];
            let amount = round_div(hundredths * unit_cents, 100);
            subtotal += amount;
            InvoiceLine {
                description: if i < ITEMS.len() {
                    description.to_owned()
                } else {
                    format!("{description} (#{})", i + 1)
                },
                quantity: quantity(hundredths),
                unit_price: euros(unit_cents),
                amount: euros(amount),
            }
        })
        .collect();
    let discount = round_div(subtotal * DISCOUNT_PERCENT, 100);
    let tax = round_div((subtotal - discount) * VAT_PERCENT, 100);
    let total = subtotal - discount + tax;
    let paid = if total >= 50_000 { 50_000 } else { 0 };

    InvoiceDocument {
        number: "INV-2026-0042".to_owned(),
        issue_date: "12 March 2026".to_owned(),
        due_date: "11 April 2026".to_owned(),
        currency: "EUR".to_owned(),
        status: (paid > 0).then(|| "Partially paid".to_owned()),
        seller: Party {
            name: "Müller & Weiß Softwarehaus GmbH".to_owned(),
            address_lines: vec![
                "Friedrichstraße 123".to_owned(),
                "10117 Berlin".to_owned(),
                "Deutschland".to_owned(),
            ],
            email: Some("rechnungen@mueller-weiss.de".to_owned()),
            tax_id: Some("DE123456789".to_owned()),
        },
        client: Party {
            name: "Construcciones Peña Ibáñez S.L.".to_owned(),
            address_lines: vec![
                "Calle de Alcalá 45, 3º izq.".to_owned(),
                "28014 Madrid".to_owned(),
                "España".to_owned(),
            ],
            email: Some("facturas@pena-ibanez.es".to_owned()),
            tax_id: Some("ESB12345678".to_owned()),
        },
        lines,
        subtotal: euros(subtotal),
        discount: Some(Adjustment {
            label: format!("Discount {DISCOUNT_PERCENT}%"),
            amount: format!("−{}", euros(discount)),
        }),
        tax: Some(Adjustment { label: format!("VAT {VAT_PERCENT}%"), amount: euros(tax) }),
        total: euros(total),
        amount_paid: euros(paid),
        amount_due: euros(total - paid),
        notes: Some(
            "Thank you for your business. Vielen Dank für Ihren Auftrag – ¡muchas gracias!\n\
             Services were rendered in March 2026."
                .to_owned(),
        ),
        payment_instructions: Some(
            "Bank transfer to Müller & Weiß Softwarehaus GmbH\n\
             IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX\n\
             Reference: INV-2026-0042"
                .to_owned(),
        ),
        hosted_url: Some("https://invoices.example.com/i/7Qm2xV9kLp4RtY8wZ3nB".to_owned()),
        labels: Labels::default(),
    }
}

/// `a / b` rounded half-up, for non-negative `a` and positive `b`.
fn round_div(a: i64, b: i64) -> i64 {
    (a + b / 2) / b
}

/// `123456` cents as `€1,234.56`.
fn euros(cents: i64) -> String {
    let units = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("€{grouped}.{:02}", cents % 100)
}

/// `250` hundredths as `2.5`, `100` as `1`.
fn quantity(hundredths: i64) -> String {
    let text = format!("{}.{:02}", hundredths / 100, hundredths % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_and_quantities() {
        assert_eq!(euros(0), "€0.00");
        assert_eq!(euros(5), "€0.05");
        assert_eq!(euros(123_456), "€1,234.56");
        assert_eq!(euros(100_000_000), "€1,000,000.00");
        assert_eq!(quantity(250), "2.5");
        assert_eq!(quantity(100), "1");
        assert_eq!(quantity(1), "0.01");
    }

    #[test]
    fn one_line_totals_are_rounded_half_up() {
        let doc = sample_document(1);
        // 16 h at €95.00; 5 % discount; 19 % VAT on the discounted subtotal.
        assert_eq!(doc.subtotal, "€1,520.00");
        assert_eq!(doc.discount.map(|d| d.amount), Some("−€76.00".to_owned()));
        assert_eq!(doc.tax.map(|t| t.amount), Some("€274.36".to_owned()));
        assert_eq!(doc.total, "€1,718.36");
        assert_eq!(doc.amount_due, "€1,218.36");
    }
}
