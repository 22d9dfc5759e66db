//! `InvoiceDocument`: the plain data an invoice PDF shows, already formatted for display.
//!
//! The renderer formats nothing itself: money, dates and quantities arrive as the strings the
//! caller wants printed, so the rounding and currency rules stay in one place (the domain crate)
//! and the PDF can never disagree with the invoice it depicts.

use serde::{Deserialize, Serialize};

/// Everything printed on one invoice. Every field is shown as literal text: nothing in it is
/// interpreted as typst markup or code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDocument {
    /// The invoice number, e.g. `INV-2026-0042`.
    pub number: String,
    /// The issue date as printed, e.g. `12 March 2026`.
    pub issue_date: String,
    /// The due date as printed.
    pub due_date: String,
    /// The ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// An optional stamp beside the title, e.g. `Paid`, `Overdue` or `Void`.
    pub status: Option<String>,
    /// Who issues the invoice.
    pub seller: Party,
    /// Who is billed.
    pub client: Party,
    /// The invoice lines, in order. Long descriptions wrap; long tables continue on further
    /// pages with the header row repeated.
    pub lines: Vec<InvoiceLine>,
    /// Sum of the line amounts, e.g. `€1,000.00`.
    pub subtotal: String,
    /// The discount row, if any, e.g. `Discount 5%` / `−€50.00`.
    pub discount: Option<Adjustment>,
    /// The tax row, if any, e.g. `VAT 19%` / `€180.50`.
    pub tax: Option<Adjustment>,
    /// The invoice total.
    pub total: String,
    /// What has been paid so far.
    pub amount_paid: String,
    /// What remains to be paid.
    pub amount_due: String,
    /// Free text for the client; newlines are kept.
    pub notes: Option<String>,
    /// How to pay (bank details, references); newlines are kept.
    pub payment_instructions: Option<String>,
    /// The hosted invoice page, printed as a clickable link.
    pub hosted_url: Option<String>,
    /// The fixed texts of the layout; English unless the caller translates them.
    #[serde(default)]
    pub labels: Labels,
}

/// The seller or the client block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Legal or display name.
    pub name: String,
    /// Postal address, one printed line each.
    pub address_lines: Vec<String>,
    /// Contact email address.
    pub email: Option<String>,
    /// VAT or other tax identification number.
    pub tax_id: Option<String>,
}

/// One row of the lines table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What was sold; may be long, it wraps.
    pub description: String,
    /// Quantity as printed, e.g. `2.5`.
    pub quantity: String,
    /// Unit price as printed, e.g. `€80.00`.
    pub unit_price: String,
    /// Line amount as printed.
    pub amount: String,
}

/// A labelled row of the totals block (discount, tax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// What the row is, e.g. `VAT 19%`.
    pub label: String,
    /// The amount as printed.
    pub amount: String,
}

/// The fixed texts of the layout, so an organisation can issue invoices in its own language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Labels {
    /// ISO 639-1 language code of the texts (used for typst's text shaping and line breaking).
    pub lang: String,
    pub invoice: String,
    pub invoice_number: String,
    pub issue_date: String,
    pub due_date: String,
    pub currency: String,
    pub bill_to: String,
    pub tax_id: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
    pub subtotal: String,
    pub total: String,
    pub amount_paid: String,
    pub amount_due: String,
    pub notes: String,
    pub payment_instructions: String,
    pub view_online: String,
    /// The footer reads `{page} 1 {of} 3`.
    pub page: String,
    pub of: String,
}

impl Default for Labels {
    fn default() -> Self {
        let s = str::to_owned;
        Self {
            lang: s("en"),
            invoice: s("Invoice"),
            invoice_number: s("Invoice number"),
            issue_date: s("Issue date"),
            due_date: s("Due date"),
            currency: s("Currency"),
            bill_to: s("Bill to"),
            tax_id: s("Tax ID"),
            description: s("Description"),
            quantity: s("Quantity"),
            unit_price: s("Unit price"),
            amount: s("Amount"),
            subtotal: s("Subtotal"),
            total: s("Total"),
            amount_paid: s("Amount paid"),
            amount_due: s("Amount due"),
            notes: s("Notes"),
            payment_instructions: s("Payment instructions"),
            view_online: s("View and pay online"),
            page: s("Page"),
            of: s("of"),
        }
    }
}
