//! The HTML of the public pages: the hosted invoice, the local test checkout, and the 404.
//! Server-rendered, no scripts, one inline stylesheet; readable from a phone up. Every value
//! from the database is escaped.

use invoice_domain::{Currency, format_amount};
use serde_json::Value;

use super::hosted::HostedInvoice;

/// A banner above the invoice.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    kind: &'static str,
    text: String,
}

impl Notice {
    pub fn error(text: String) -> Self {
        Notice { kind: "error", text }
    }

    /// What the payer is told when they come back from the checkout.
    pub fn from_return(checkout: &str, invoice: &HostedInvoice) -> Option<Notice> {
        let (kind, text) = match checkout {
            "success" if invoice.status == "paid" => ("ok", "Thank you: this invoice is paid.".to_owned()),
            "success" => (
                "ok",
                "Thank you: your payment is being confirmed. This page shows it as soon as it arrives."
                    .to_owned(),
            ),
            "cancelled" => ("info", "Payment cancelled. Nothing was charged.".to_owned()),
            "failed" => ("error", "The payment failed. Nothing was charged; you can try again.".to_owned()),
            _ => return None,
        };
        Some(Notice { kind, text })
    }
}

pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f4f6f8}
main{max-width:760px;margin:0 auto;padding:16px}.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:20px;margin-bottom:16px}
h1{font-size:1.4rem;margin:0 0 4px}h2{font-size:1rem;margin:0 0 8px;color:#52606d;text-transform:uppercase;letter-spacing:.04em}
.muted{color:#616e7c}.row{display:flex;flex-wrap:wrap;gap:16px;justify-content:space-between}.row>div{min-width:200px;flex:1}
.status{display:inline-block;padding:2px 10px;border-radius:999px;font-size:.85rem;font-weight:600;background:#e4e7eb}
.status.paid{background:#d1fae5;color:#065f46}.status.overdue,.status.needs_attention{background:#fee2e2;color:#991b1b}.status.partially_paid{background:#fef3c7;color:#92400e}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:8px 4px;border-bottom:1px solid #e4e7eb;vertical-align:top}th{font-size:.8rem;color:#616e7c;font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap}.totals td{border:0;padding:4px}.totals .due td{font-weight:700;font-size:1.15rem;border-top:2px solid #1f2933}
.amount-due{font-size:2rem;font-weight:700;margin:4px 0}.pay{display:block;width:100%;padding:14px;border:0;border-radius:8px;background:#2563eb;color:#fff;font-size:1.1rem;font-weight:600;cursor:pointer}
.pay:hover,.pay:focus{background:#1d4ed8}.pay.fail{background:#b91c1c}.actions a{color:#2563eb}
.notice{padding:12px 16px;border-radius:8px;margin-bottom:16px}.notice.ok{background:#d1fae5}.notice.info{background:#e0f2fe}.notice.error{background:#fee2e2;color:#7f1d1d}
.test-mode{background:#fde047;color:#422006;font-weight:800;text-align:center;padding:10px;letter-spacing:.1em}
@media (max-width:520px){main{padding:8px}.card{padding:14px}.hide-narrow{display:none}}
"#;

fn document(title: &str, banner: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex,nofollow\"><title>{}</title><style>{STYLE}</style></head><body>{banner}<main>{body}</main></body></html>",
        escape(title)
    )
}

/// A page that only says something (404s, a PDF not ready yet).
pub(super) fn message(title: &str, text: &str) -> String {
    document(
        title,
        "",
        &format!(
            "<div class=\"card\"><h1>{}</h1><p class=\"muted\">{}</p></div>",
            escape(title),
            escape(text)
        ),
    )
}

pub(super) fn not_found() -> String {
    message(
        "Invoice not found",
        "This invoice link is not valid, or the invoice was cancelled. Please contact the sender.",
    )
}

fn money(minor: i64, currency: &str) -> String {
    match currency.parse::<Currency>() {
        Ok(c) => format_amount(minor, c),
        Err(_) => format!("{minor} {currency}"),
    }
}

fn status_label(status: &str) -> &str {
    match status {
        "open" | "sent" => "Open",
        "overdue" => "Overdue",
        "partially_paid" => "Partially paid",
        "paid" => "Paid",
        "refunded" => "Refunded",
        "void" => "Void",
        "needs_attention" => "Open",
        other => other,
    }
}

fn method_label(method: &str) -> String {
    match method {
        "card" => "Card".into(),
        "bank_transfer" => "Bank transfer".into(),
        "wallet" => "Wallet".into(),
        other => {
            let mut s = other.replace('_', " ");
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s
        }
    }
}

/// Lines of a party block from a JSON object with `legalName`/`name`, `addressLines` or an
/// `address` object, `email`, `taxId`.
fn party(name: &str, details: Option<&Value>, email: Option<&str>) -> String {
    let mut lines = vec![format!("<strong>{}</strong>", escape(name))];
    if let Some(d) = details {
        if let Some(address) = d["addressLines"].as_array() {
            lines.extend(address.iter().filter_map(Value::as_str).map(escape));
        }
        if let Some(address) = d["address"].as_object() {
            for key in ["line1", "line2", "postalCode", "city", "region", "country"] {
                if let Some(v) = address.get(key).and_then(Value::as_str).filter(|v| !v.is_empty())
                {
                    lines.push(escape(v));
                }
            }
        }
        if let Some(tax) = d["taxId"].as_str() {
            lines.push(format!("Tax ID {}", escape(tax)));
        }
    }
    if let Some(email) = email {
        lines.push(escape(email));
    }
    lines.join("<br>")
}

/// The hosted invoice page.
pub(super) fn invoice(
    inv: &HostedInvoice,
    token: &str,
    notice: Option<Notice>,
    test_mode: bool,
) -> String {
    let cur = inv.currency.as_str();
    let seller_name =
        inv.seller_details.as_ref().and_then(|d| d["legalName"].as_str()).unwrap_or(&inv.org_name);
    let seller_email = inv.seller_details.as_ref().and_then(|d| d["email"].as_str());
    let mut body = String::new();
    if let Some(n) = notice {
        body.push_str(&format!(
            "<div class=\"notice {}\" role=\"status\">{}</div>",
            n.kind,
            escape(&n.text)
        ));
    }
    // Header: who, what, how much is due.
    body.push_str(&format!(
        "<div class=\"card\"><div class=\"row\"><div><h1>Invoice {}</h1><div class=\"muted\">from {}</div></div>\
         <div style=\"text-align:right\"><span class=\"status {}\">{}</span></div></div>",
        escape(&inv.number),
        escape(seller_name),
        escape(&inv.status),
        status_label(&inv.status)
    ));
    if inv.status == "paid" {
        let when =
            inv.paid_at.map(|t| format!(" on {}", t.format("%-d %B %Y"))).unwrap_or_default();
        body.push_str(&format!(
            "<p class=\"amount-due\">Paid</p><p class=\"muted\">{} received{when}, thank you. A receipt was sent by email.</p>",
            money(inv.amount_paid, cur)
        ));
    } else if inv.payable() {
        body.push_str(&format!(
            "<p class=\"muted\" style=\"margin:12px 0 0\">Amount due</p><p class=\"amount-due\">{}</p><p class=\"muted\">Due on {}</p>\
             <form method=\"post\" action=\"/i/{token}/pay\"><button class=\"pay\" type=\"submit\">Pay {}</button></form>",
            money(inv.amount_due, cur),
            inv.due_date.format("%-d %B %Y"),
            money(inv.amount_due, cur)
        ));
        if test_mode {
            body.push_str("<p class=\"muted\">Payments here go through the built-in test checkout: no real money moves.</p>");
        }
    } else if inv.status == "refunded" {
        body.push_str("<p class=\"muted\">This invoice was paid and refunded in full.</p>");
    }
    body.push_str("</div>");
    // Parties and dates.
    body.push_str(&format!(
        "<div class=\"card row\"><div><h2>From</h2>{}</div><div><h2>Bill to</h2>{}</div><div><h2>Dates</h2>Issued {}<br>Due {}</div></div>",
        party(seller_name, inv.seller_details.as_ref(), seller_email),
        party(&inv.client_name, inv.client_snapshot.as_ref(), inv.client_email.as_deref()),
        inv.issue_date.map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_default(),
        inv.due_date.format("%-d %B %Y")
    ));
    // Lines and totals.
    let mut lines = String::new();
    for line in &inv.lines {
        lines.push_str(&format!(
            "<tr><td>{}</td><td class=\"num hide-narrow\">{}</td><td class=\"num hide-narrow\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&line.description),
            escape(&line.quantity),
            money(line.unit_price, cur),
            money(line.amount, cur)
        ));
    }
    let mut totals =
        format!("<tr><td>Subtotal</td><td class=\"num\">{}</td></tr>", money(inv.subtotal, cur));
    if inv.discount_total > 0 {
        totals.push_str(&format!(
            "<tr><td>Discount</td><td class=\"num\">−{}</td></tr>",
            money(inv.discount_total, cur)
        ));
    }
    if inv.tax_total > 0 {
        totals.push_str(&format!(
            "<tr><td>Tax</td><td class=\"num\">{}</td></tr>",
            money(inv.tax_total, cur)
        ));
    }
    totals.push_str(&format!(
        "<tr><td>Total</td><td class=\"num\">{}</td></tr>",
        money(inv.total, cur)
    ));
    if inv.amount_paid != 0 {
        totals.push_str(&format!(
            "<tr><td>Paid</td><td class=\"num\">−{}</td></tr>",
            money(inv.amount_paid, cur)
        ));
    }
    totals.push_str(&format!(
        "<tr class=\"due\"><td>Amount due</td><td class=\"num\">{}</td></tr>",
        money(inv.amount_due.max(0), cur)
    ));
    body.push_str(&format!(
        "<div class=\"card\"><table><thead><tr><th>Description</th><th class=\"num hide-narrow\">Qty</th><th class=\"num hide-narrow\">Unit price</th><th class=\"num\">Amount</th></tr></thead>\
         <tbody>{lines}</tbody></table><table class=\"totals\" style=\"margin-top:8px\">{totals}</table></div>"
    ));
    // Payments made (refunds shown as negative amounts).
    if !inv.payments.is_empty() {
        let mut rows = String::new();
        for p in &inv.payments {
            let what = if p.amount < 0 {
                format!("Refund ({})", method_label(&p.method))
            } else {
                method_label(&p.method)
            };
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                p.paid_at.format("%-d %B %Y"),
                escape(&what),
                money(p.amount, cur)
            ));
        }
        body.push_str(&format!(
            "<div class=\"card\"><h2>Payments</h2><table><tbody>{rows}</tbody></table></div>"
        ));
    }
    if let Some(notes) = inv.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        body.push_str(&format!("<div class=\"card\"><h2>Notes</h2><p>{}</p></div>", escape(notes)));
    }
    let instructions = inv.payment_instructions.as_deref().filter(|n| !n.trim().is_empty());
    if let Some(how) = instructions.filter(|_| inv.payable()) {
        body.push_str(&format!(
            "<div class=\"card\"><h2>Other ways to pay</h2><p>{}</p></div>",
            escape(how).replace('\n', "<br>")
        ));
    }
    if inv.has_pdf {
        body.push_str(&format!(
            "<p class=\"actions\"><a href=\"/i/{token}/pdf\" download=\"{}.pdf\">Download the PDF</a></p>",
            escape(&inv.number)
        ));
    }
    document(&format!("Invoice {} from {seller_name}", inv.number), "", &body)
}

/// The built-in test checkout: clearly not a real payment page.
pub(super) fn test_checkout(inv: &HostedInvoice, token: &str, session: &str) -> String {
    let banner = "<div class=\"test-mode\">TEST MODE · no real payment is made</div>";
    let amount = money(inv.amount_due, &inv.currency);
    let body = format!(
        "<div class=\"card\"><h1>Test checkout</h1><p class=\"muted\">Invoice {} from {}</p><p class=\"amount-due\">{amount}</p>\
         <p>This page stands in for a card payment page. <strong>Pay</strong> and <strong>Fail</strong> send the same signed \
         payment events a payment provider sends, through the same webhook.</p>\
         <form method=\"post\" action=\"/i/{token}/test-checkout\"><input type=\"hidden\" name=\"session\" value=\"{}\">\
         <p><button class=\"pay\" name=\"outcome\" value=\"pay\" type=\"submit\">Pay {amount} (test)</button></p>\
         <p><button class=\"pay fail\" name=\"outcome\" value=\"fail\" type=\"submit\">Fail the payment (test)</button></p></form>\
         <p class=\"actions\"><a href=\"/i/{token}?checkout=cancelled\">Cancel and go back</a></p></div>",
        escape(&inv.number),
        escape(&inv.org_name),
        escape(session)
    );
    document("TEST MODE checkout", banner, &body)
}
