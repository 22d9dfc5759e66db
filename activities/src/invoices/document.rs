//! Builds the printable [`InvoiceDocument`] of an invoice from Postgres: the one place where
//! stored minor units, rates and dates become the text a client reads.

use chrono::NaiveDate;
use invoice_domain::{Currency, format_amount};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::records::RecordError;
use crate::pdf::{Adjustment, InvoiceDocument, InvoiceLine, Labels, Party};

/// Seller details an organisation prints on its invoices (`organizations.seller_details`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SellerDetails {
    legal_name: Option<String>,
    address_lines: Vec<String>,
    email: Option<String>,
    tax_id: Option<String>,
}

/// The client as frozen at finalization (`invoices.client_snapshot`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ClientSnapshot {
    address: Option<serde_json::Value>,
    tax_id: Option<String>,
}

fn date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

fn address_lines(address: Option<&serde_json::Value>) -> Vec<String> {
    let Some(a) = address else { return Vec::new() };
    let field = |k: &str| a.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let city_line = [field("postalCode"), field("city"), field("region")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    [field("line1"), field("line2"), Some(city_line).filter(|l| !l.is_empty()), field("country")]
        .into_iter()
        .flatten()
        .collect()
}

/// Loads everything the PDF shows. A finalized invoice is required (it has a number).
/// `hosted_url` turns the invoice's page token into the link printed on it.
#[tracing::instrument(name = "postgres", skip_all, fields(db.system = "postgresql", db.operation = "read_invoice_document"))]
pub async fn load(
    db: &PgPool,
    org_id: Uuid,
    invoice_id: Uuid,
    hosted_url: impl Fn(&str) -> String,
) -> Result<InvoiceDocument, RecordError> {
    let row = sqlx::query!(
        r#"SELECT i.number, i.issue_date, i.due_date, i.currency, i.subtotal, i.discount_total, i.tax_total,
                  i.total, i.amount_paid, i.amount_due AS "amount_due!", i.notes,
                  i.tax_rate::text AS "tax_rate!", i.discount_rate::text AS "discount_rate!",
                  i.client_name, i.client_email, i.client_snapshot, o.name AS org_name, o.seller_details,
                  o.payment_instructions, i.public_token
           FROM invoices i JOIN organizations o ON o.id = i.org_id
           WHERE i.org_id = $1 AND i.id = $2"#,
        org_id,
        invoice_id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| RecordError::Permanent(format!("invoice {invoice_id} not found")))?;
    let number =
        row.number.ok_or_else(|| RecordError::Permanent("the invoice is not finalized".into()))?;
    let currency: Currency = row
        .currency
        .parse()
        .map_err(|_| RecordError::Permanent(format!("unknown currency {}", row.currency)))?;
    let money = |minor: i64| format_amount(minor, currency);
    let lines = sqlx::query!(
        r#"SELECT description, quantity::text AS "quantity!", unit_price, amount
           FROM invoice_lines WHERE invoice_id = $1 ORDER BY position"#,
        invoice_id
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|l| InvoiceLine {
        description: l.description,
        quantity: trim_decimal(&l.quantity),
        unit_price: money(l.unit_price),
        amount: money(l.amount),
    })
    .collect();
    let seller: SellerDetails =
        row.seller_details.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let client: ClientSnapshot =
        row.client_snapshot.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let rate = |r: &str| trim_decimal(r);
    Ok(InvoiceDocument {
        number,
        issue_date: row.issue_date.map(date).unwrap_or_default(),
        due_date: date(row.due_date),
        currency: currency.code().to_owned(),
        status: None,
        seller: Party {
            name: seller.legal_name.unwrap_or(row.org_name),
            address_lines: seller.address_lines,
            email: seller.email,
            tax_id: seller.tax_id,
        },
        client: Party {
            name: row.client_name,
            address_lines: address_lines(client.address.as_ref()),
            email: row.client_email,
            tax_id: client.tax_id,
        },
        lines,
        subtotal: money(row.subtotal),
        discount: (row.discount_total > 0).then(|| Adjustment {
            label: format!("Discount {}%", rate(&row.discount_rate)),
            amount: format!("−{}", money(row.discount_total)),
        }),
        tax: (row.tax_total > 0).then(|| Adjustment {
            label: format!("Tax {}%", rate(&row.tax_rate)),
            amount: money(row.tax_total),
        }),
        total: money(row.total),
        amount_paid: money(row.amount_paid),
        amount_due: money(row.amount_due),
        notes: row.notes,
        payment_instructions: row.payment_instructions,
        hosted_url: row.public_token.as_deref().map(hosted_url),
        labels: Labels::default(),
    })
}

/// `10.0000` -> `10`, `1.5000` -> `1.5`.
fn trim_decimal(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_short() {
        assert_eq!(trim_decimal("10.0000"), "10");
        assert_eq!(trim_decimal("1.5000"), "1.5");
        assert_eq!(trim_decimal("100"), "100");
    }

    #[test]
    fn addresses_print_line_by_line() {
        let a = serde_json::json!({ "line1": "Hauptstraße 5", "city": "München", "postalCode": "80331", "country": "DE" });
        assert_eq!(address_lines(Some(&a)), ["Hauptstraße 5", "80331 München", "DE"]);
    }
}
