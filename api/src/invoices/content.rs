//! What an invoice says, as a client sends it: the create body (and a draft edit, which is
//! validated as the whole draft), checked field by field into the workflow's `InvoiceContent`,
//! and the customer it is billed to.

use chrono::NaiveDate;
use invoice_domain::{Currency, Decimal4, DecimalText, LineInput, compute_totals, parse_amount};
use invoice_workflows::invoice::messages::{InvoiceContent, LineContent};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::state::AppState;

pub(super) const MAX_LINES: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateInvoice {
    /// An existing customer; or give `clientName` (and `clientEmail`) instead.
    pub customer_id: Option<Uuid>,
    #[schema(example = "Acme Corp")]
    pub client_name: Option<String>,
    #[schema(example = "billing@acme.com")]
    pub client_email: Option<String>,
    /// If given, must equal the computed total (a check against typos).
    #[schema(value_type = Option<String>, example = "1000.00")]
    pub amount: Option<DecimalText>,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(value_type = String, format = Date, example = "2026-12-31")]
    pub due_date: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub issue_date: Option<String>,
    pub items: Vec<CreateLine>,
    /// Keep it a draft (editable, not sent) until `finalize`.
    #[serde(default)]
    pub draft: bool,
    /// Percent, e.g. `19` for 19 %.
    #[schema(value_type = Option<String>)]
    pub tax_rate: Option<DecimalText>,
    /// Percent off every line, e.g. `10`.
    #[schema(value_type = Option<String>)]
    pub discount: Option<DecimalText>,
    pub notes: Option<String>,
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateLine {
    #[schema(example = "Consulting Services")]
    pub description: String,
    #[schema(value_type = String, example = "10")]
    pub quantity: DecimalText,
    #[schema(value_type = String, example = "100.00")]
    pub unit_price: DecimalText,
}

/// Validates everything, reporting every bad field at once.
pub(super) fn validate(req: &CreateInvoice) -> ApiResult<InvoiceContent> {
    let mut errors = FieldErrors::new();
    let currency: Option<Currency> = req.currency.parse().ok();
    if currency.is_none() {
        errors.add(
            "currency",
            "unknown_currency",
            "Must be an ISO 4217 currency code such as `USD`.",
        );
    }
    let date = |field: &str, value: &str, errors: &mut FieldErrors| match NaiveDate::parse_from_str(
        value, "%Y-%m-%d",
    ) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(field, "invalid_date", "Must be a date like `2026-12-31`.");
            None
        }
    };
    let due_date = date("dueDate", &req.due_date, &mut errors);
    let issue_date = req.issue_date.as_deref().and_then(|d| date("issueDate", d, &mut errors));
    if let (Some(issue), Some(due)) = (issue_date, due_date)
        && due < issue
    {
        errors.add("dueDate", "before_issue_date", "Must not be before the issue date.");
    }
    let rate = |field: &str, value: &Option<DecimalText>, errors: &mut FieldErrors| -> Decimal4 {
        match value.as_ref().map(|v| v.0.parse::<Decimal4>()) {
            None => Decimal4::ZERO,
            Some(Ok(r)) if r <= Decimal4::from_int(100) => r,
            Some(Ok(_)) => {
                errors.add(field, "out_of_range", "Must be a percentage from 0 to 100.");
                Decimal4::ZERO
            }
            Some(Err(e)) => {
                errors.add(
                    field,
                    e.code(),
                    "Must be a percentage from 0 to 100 with at most 4 decimals.",
                );
                Decimal4::ZERO
            }
        }
    };
    let tax_rate = rate("taxRate", &req.tax_rate, &mut errors);
    let discount_rate = rate("discount", &req.discount, &mut errors);
    if req.items.is_empty() {
        errors.add("items", "required", "An invoice needs at least one line.");
    } else if req.items.len() > MAX_LINES {
        errors.add("items", "too_many", format!("At most {MAX_LINES} lines."));
    }
    let lines = validate_lines(&req.items, currency, &mut errors);
    for (field, value, max) in [("notes", &req.notes, 5000), ("reference", &req.reference, 100)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            errors.add(field, "too_long", format!("Must be at most {max} characters."));
        } else if let Some(v) = value {
            errors.no_nul(field, v);
        }
    }
    errors.no_nul("currency", &req.currency);
    if let Some(currency) = currency.filter(|_| lines.len() == req.items.len() && !lines.is_empty())
    {
        check_total(&lines, currency, discount_rate, tax_rate, req.amount.as_ref(), &mut errors);
    }
    errors.into_result()?;
    Ok(InvoiceContent {
        currency: currency.expect("validated"),
        issue_date,
        due_date: due_date.expect("validated"),
        lines,
        tax_rate,
        discount_rate,
        notes: req.notes.clone().filter(|n| !n.trim().is_empty()),
        reference: req.reference.clone().filter(|r| !r.trim().is_empty()),
    })
}

/// Each line's description, quantity and unit price; the valid ones, in order.
fn validate_lines(
    items: &[CreateLine],
    currency: Option<Currency>,
    errors: &mut FieldErrors,
) -> Vec<LineContent> {
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate().take(MAX_LINES) {
        let description = item.description.trim().to_owned();
        errors.text(&format!("items[{i}].description"), &description, 2000);
        let quantity = match item.quantity.0.parse::<Decimal4>() {
            Ok(q) if q.is_zero() => {
                errors.add(
                    format!("items[{i}].quantity"),
                    "not_positive",
                    "Must be greater than 0.",
                );
                None
            }
            Ok(q) => Some(q),
            Err(e) => {
                errors.add(
                    format!("items[{i}].quantity"),
                    e.code(),
                    "Must be a positive number with at most 4 decimals.",
                );
                None
            }
        };
        let unit_price = currency.and_then(|c| match parse_amount(&item.unit_price.0, c) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.add(
                    format!("items[{i}].unitPrice"),
                    e.code(),
                    format!(
                        "Must be an amount of at least 0 with at most {} decimals.",
                        c.exponent()
                    ),
                );
                None
            }
        });
        if let (Some(quantity), Some(unit_price)) = (quantity, unit_price) {
            lines.push(LineContent { description, quantity, unit_price });
        }
    }
    lines
}

/// The totals fit, and match `amount` when the client gave one (a check against typos).
fn check_total(
    lines: &[LineContent],
    currency: Currency,
    discount_rate: Decimal4,
    tax_rate: Decimal4,
    amount: Option<&DecimalText>,
    errors: &mut FieldErrors,
) {
    let inputs: Vec<LineInput> = lines
        .iter()
        .map(|l| LineInput { quantity: l.quantity, unit_price: l.unit_price })
        .collect();
    match compute_totals(&inputs, discount_rate, tax_rate) {
        Ok((_, totals)) => {
            // Nothing to collect: no reminders, no Pay button, nothing to settle. Refused
            // rather than settled at finalization, so that every finalized invoice has money
            // due (a no-charge document is not an invoice).
            if totals.total <= 0 {
                errors.add("items", "zero_total", "The invoice total must be greater than zero.");
            }
            if let Some(amount) = amount {
                match parse_amount(&amount.0, currency) {
                    Ok(a) if a == totals.total => {}
                    Ok(_) => errors.add(
                        "amount",
                        "amount_mismatch",
                        format!(
                            "Does not match the computed total {}.",
                            invoice_domain::money::to_decimal_string(totals.total, currency)
                        ),
                    ),
                    Err(e) => errors.add("amount", e.code(), "Must be the invoice total."),
                }
            }
        }
        Err(_) => errors.add("items", "out_of_range", "The invoice total is too large."),
    }
}

/// The customer of a new invoice: the given id (of this organisation), or the customer with
/// the client's email, or a new customer made from `clientName`/`clientEmail`.
pub(super) async fn resolve_customer(
    state: &AppState,
    auth: &Auth,
    req: &CreateInvoice,
) -> ApiResult<Uuid> {
    if let Some(id) = req.customer_id {
        return sqlx::query_scalar!(
            "SELECT id FROM customers WHERE org_id = $1 AND id = $2",
            auth.org_id,
            id
        )
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::field("customerId", "unknown_customer", "No such customer."));
    }
    let mut errors = FieldErrors::new();
    let name = req.client_name.as_deref().map(str::trim).unwrap_or_default().to_owned();
    errors.text("clientName", &name, 200);
    let email =
        req.client_email.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned);
    if email.as_deref().is_some_and(|e| !invoice_domain::is_valid_email(e)) {
        errors.add("clientEmail", "invalid_email", "Must be a valid email address.");
    }
    errors.into_result()?;
    if let Some(email) = &email {
        let existing = sqlx::query_scalar!(
            "SELECT id FROM customers WHERE org_id = $1 AND lower(email) = lower($2) ORDER BY created_at LIMIT 1",
            auth.org_id,
            email
        )
        .fetch_optional(&state.db)
        .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO customers (id, org_id, name, email, currency, time_zone, locale) VALUES ($1, $2, $3, $4, $5, 'UTC', 'en-US')",
        id,
        auth.org_id,
        name,
        email,
        req.currency
    )
    .execute(&state.db)
    .await?;
    Ok(id)
}
