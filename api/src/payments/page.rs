//! The HTML of the public pages: the hosted invoice, the local test checkout, and the 404.
//! Server-rendered, no scripts, one inline stylesheet; readable from a phone up. The markup is
//! in `api/templates/` (askama, checked at compile time), which HTML-escapes every value; this
//! module hands the templates plain text: labels, formatted amounts and dates, party blocks.

use askama::Template;
use chrono::NaiveDate;
use invoice_domain::{Currency, format_amount};
use serde_json::Value;

use super::PaymentSettings;
use super::public::HostedInvoice;

/// A banner above the invoice.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    kind: &'static str,
    text: String,
}

impl Notice {
    pub(super) fn error(text: String) -> Self {
        Notice { kind: "error", text }
    }

    /// What the payer is told when they come back from the checkout.
    pub(super) fn from_return(checkout: &str, invoice: &HostedInvoice) -> Option<Notice> {
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

/// A page that only says something (404s, a PDF not ready yet).
#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
}

pub(super) fn message<'a>(title: &'a str, text: &'a str) -> MessagePage<'a> {
    MessagePage { title, text }
}

pub(super) fn not_found() -> MessagePage<'static> {
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

fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
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

/// A party block: the name, then one line each for the address, tax ID and email.
struct Party<'a> {
    name: &'a str,
    address: Vec<&'a str>,
    tax_id: Option<&'a str>,
    email: Option<&'a str>,
}

/// A party from a JSON object with `addressLines` or an `address` object, and `taxId`.
fn party<'a>(name: &'a str, details: Option<&'a Value>, email: Option<&'a str>) -> Party<'a> {
    let mut address = Vec::new();
    let mut tax_id = None;
    if let Some(d) = details {
        if let Some(lines) = d["addressLines"].as_array() {
            address.extend(lines.iter().filter_map(Value::as_str));
        }
        if let Some(parts) = d["address"].as_object() {
            for key in ["line1", "line2", "postalCode", "city", "region", "country"] {
                if let Some(v) = parts.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                    address.push(v);
                }
            }
        }
        tax_id = d["taxId"].as_str();
    }
    Party { name, address, tax_id, email }
}

/// What the top card says about paying.
enum Standing {
    Paid {
        amount: String,
        on: Option<String>,
    },
    Due {
        amount: String,
        on: String,
        test_mode: bool,
        /// A Pay button is shown (a payment provider is configured).
        online: bool,
    },
    Refunded,
    /// Void, or nothing due for another reason: no payment block.
    Closed,
}

struct Line<'a> {
    description: &'a str,
    quantity: &'a str,
    unit_price: String,
    amount: String,
}

/// The totals table; discount, tax and paid show only when there are any.
struct Totals {
    subtotal: String,
    discount: Option<String>,
    tax: Option<String>,
    total: String,
    paid: Option<String>,
    due: String,
}

/// A payment made, or a refund (a negative amount).
struct Payment {
    on: String,
    what: String,
    amount: String,
}

/// The hosted invoice page.
#[derive(Template)]
#[template(path = "invoice.html")]
pub(super) struct InvoicePage<'a> {
    notice: Option<Notice>,
    token: &'a str,
    number: &'a str,
    seller_name: &'a str,
    /// The status as stored (the CSS class) and in words.
    status: &'a str,
    status_label: &'a str,
    standing: Standing,
    seller: Party<'a>,
    client: Party<'a>,
    issued: String,
    due: String,
    lines: Vec<Line<'a>>,
    totals: Totals,
    payments: Vec<Payment>,
    notes: Option<&'a str>,
    /// Other ways to pay (bank details), line by line; shown only while something is due.
    instructions: Option<Vec<&'a str>>,
    has_pdf: bool,
}

pub(super) fn invoice<'a>(
    inv: &'a HostedInvoice,
    token: &'a str,
    notice: Option<Notice>,
    payments: &PaymentSettings,
) -> InvoicePage<'a> {
    let (test_mode, online) = (payments.is_local(), payments.online());
    let cur = inv.currency.as_str();
    let seller_name =
        inv.seller_details.as_ref().and_then(|d| d["legalName"].as_str()).unwrap_or(&inv.org_name);
    let seller_email = inv.seller_details.as_ref().and_then(|d| d["email"].as_str());
    let standing = if inv.status == "paid" {
        Standing::Paid {
            amount: money(inv.amount_paid, cur),
            on: inv.paid_at.map(|t| long_date(t.date_naive())),
        }
    } else if inv.payable() {
        Standing::Due {
            amount: money(inv.amount_due, cur),
            on: long_date(inv.due_date),
            test_mode,
            online,
        }
    } else if inv.status == "refunded" {
        Standing::Refunded
    } else {
        Standing::Closed
    };
    let lines = inv
        .lines
        .iter()
        .map(|line| Line {
            description: &line.description,
            quantity: &line.quantity,
            unit_price: money(line.unit_price, cur),
            amount: money(line.amount, cur),
        })
        .collect();
    let totals = Totals {
        subtotal: money(inv.subtotal, cur),
        discount: (inv.discount_total > 0).then(|| money(inv.discount_total, cur)),
        tax: (inv.tax_total > 0).then(|| money(inv.tax_total, cur)),
        total: money(inv.total, cur),
        paid: (inv.amount_paid != 0).then(|| money(inv.amount_paid, cur)),
        due: money(inv.amount_due.max(0), cur),
    };
    let payments = inv
        .payments
        .iter()
        .map(|p| Payment {
            on: long_date(p.paid_at.date_naive()),
            what: if p.amount < 0 {
                format!("Refund ({})", method_label(&p.method))
            } else {
                method_label(&p.method)
            },
            amount: money(p.amount, cur),
        })
        .collect();
    let instructions = inv
        .payment_instructions
        .as_deref()
        .filter(|how| !how.trim().is_empty() && inv.payable())
        .map(|how| how.split('\n').collect());
    InvoicePage {
        notice,
        token,
        number: &inv.number,
        seller_name,
        status: &inv.status,
        status_label: status_label(&inv.status),
        standing,
        seller: party(seller_name, inv.seller_details.as_ref(), seller_email),
        client: party(&inv.client_name, inv.client_snapshot.as_ref(), inv.client_email.as_deref()),
        issued: inv.issue_date.map(long_date).unwrap_or_default(),
        due: long_date(inv.due_date),
        lines,
        totals,
        payments,
        notes: inv.notes.as_deref().filter(|n| !n.trim().is_empty()),
        instructions,
        has_pdf: inv.has_pdf,
    }
}

/// The built-in test checkout: clearly not a real payment page.
#[derive(Template)]
#[template(path = "test_checkout.html")]
pub(super) struct TestCheckoutPage<'a> {
    token: &'a str,
    session: &'a str,
    number: &'a str,
    org_name: &'a str,
    amount: String,
}

pub(super) fn test_checkout<'a>(
    inv: &'a HostedInvoice,
    token: &'a str,
    session: &'a str,
) -> TestCheckoutPage<'a> {
    TestCheckoutPage {
        token,
        session,
        number: &inv.number,
        org_name: &inv.org_name,
        amount: money(inv.amount_due, &inv.currency),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::config::PaymentsConfig;
    use crate::payments::public::{HostedLine, HostedPayment};
    use invoice_service::PaymentProviderSetting;

    fn settings(provider: PaymentProviderSetting) -> PaymentSettings {
        PaymentSettings::from_config(&PaymentsConfig::local(), provider)
    }

    #[test]
    fn without_a_payment_provider_there_is_no_pay_button() {
        let inv = invoice_with("Acme");
        let none = invoice(&inv, TOKEN, None, &settings(PaymentProviderSetting::None));
        let html = none.render().unwrap();
        assert!(html.contains("Amount due") && !html.contains("/pay\""), "{html}");
        let test = invoice(&inv, TOKEN, None, &settings(PaymentProviderSetting::Test));
        assert!(test.render().unwrap().contains("/pay\""));
    }

    const TOKEN: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    /// Typed by someone else: markup, both quotes and an ampersand.
    const TYPED: &str = "<script>alert(\"x\")</script> & 'y'";
    const ESCAPED: &str = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;";

    /// A partly paid invoice in euros; `text` is in every field a person typed.
    fn invoice_with(text: &str) -> HostedInvoice {
        let at = |day| Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap();
        HostedInvoice {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            number: format!("INV-{text}-7"),
            status: "partially_paid".into(),
            currency: "EUR".into(),
            issue_date: NaiveDate::from_ymd_opt(2026, 3, 1),
            due_date: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            subtotal: 100_000,
            discount_total: 5_000,
            tax_total: 18_050,
            total: 113_050,
            amount_paid: 20_000,
            amount_due: 93_050,
            client_name: format!("Globex {text} GmbH"),
            client_email: Some(format!("billing{text}@globex.test")),
            client_snapshot: Some(json!({
                "address": {"line1": format!("1 Main {text} St"), "line2": "", "city": "Berlin"},
                "taxId": format!("DE{text}1"),
            })),
            notes: Some(format!("Thanks {text}")),
            org_name: format!("Seller {text} Ltd"),
            seller_details: Some(json!({
                "legalName": format!("Seller {text} Legal"),
                "addressLines": [format!("2 High {text} Rd"), "London"],
                "email": "ar@seller.test",
                "taxId": "GB123",
            })),
            payment_instructions: Some(format!("IBAN {text}\nBIC XYZ")),
            paid_at: None,
            has_pdf: true,
            lines: vec![
                HostedLine {
                    description: format!("Design {text} sprint"),
                    quantity: "1.5".into(),
                    unit_price: 60_000,
                    amount: 90_000,
                },
                HostedLine {
                    description: "Hosting".into(),
                    quantity: "1".into(),
                    unit_price: 10_000,
                    amount: 10_000,
                },
            ],
            payments: vec![
                HostedPayment { amount: 30_000, method: "card".into(), paid_at: at(5) },
                HostedPayment { amount: -10_000, method: "sepa_debit".into(), paid_at: at(6) },
            ],
            checkout: None,
        }
    }

    fn assert_contains_all(html: &str, expected: &[&str]) {
        for e in expected {
            assert!(html.contains(e), "{e:?} missing from the page:\n{html}");
        }
    }

    #[test]
    fn the_invoice_page_escapes_what_people_typed_and_shows_labels_and_amounts() {
        let inv = invoice_with(TYPED);
        let notice = Some(Notice::error(format!("Refused: {TYPED}")));
        let html =
            invoice(&inv, TOKEN, notice, &settings(PaymentProviderSetting::Test)).render().unwrap();

        assert!(!html.contains("<script") && !html.contains(TYPED), "unescaped text:\n{html}");
        assert_contains_all(
            &html,
            &[
                &format!("<title>Invoice INV-{ESCAPED}-7 from Seller {ESCAPED} Legal</title>"),
                &format!("<div class=\"notice error\" role=\"status\">Refused: {ESCAPED}</div>"),
                &format!("<h1>Invoice INV-{ESCAPED}-7</h1>"),
                &format!(
                    "<strong>Seller {ESCAPED} Legal</strong><br>2 High {ESCAPED} Rd<br>London"
                ),
                "<br>Tax ID GB123<br>ar@seller.test</div>",
                &format!("<strong>Globex {ESCAPED} GmbH</strong><br>1 Main {ESCAPED} St<br>Berlin"),
                &format!("<br>Tax ID DE{ESCAPED}1<br>billing{ESCAPED}@globex.test</div>"),
                &format!("<td>Design {ESCAPED} sprint</td>"),
                &format!("<p>Thanks {ESCAPED}</p>"),
                &format!("<p>IBAN {ESCAPED}<br>BIC XYZ</p>"),
                &format!("download=\"INV-{ESCAPED}-7.pdf\""),
            ],
        );
        assert_contains_all(
            &html,
            &[
                "<span class=\"status partially_paid\">Partially paid</span>",
                "<p class=\"amount-due\">€930.50</p>",
                "<p class=\"muted\">Due on 31 March 2026</p>",
                &format!("<form method=\"post\" action=\"/i/{TOKEN}/pay\">"),
                "<button class=\"pay\" type=\"submit\">Pay €930.50</button>",
                "through the built-in test checkout",
                "Issued 1 March 2026<br>Due 31 March 2026",
                "<td class=\"num hide-narrow\">1.5</td><td class=\"num hide-narrow\">€600.00</td>",
                "<tr><td>Subtotal</td><td class=\"num\">€1,000.00</td></tr>",
                "<tr><td>Discount</td><td class=\"num\">−€50.00</td></tr>",
                "<tr><td>Tax</td><td class=\"num\">€180.50</td></tr>",
                "<tr><td>Total</td><td class=\"num\">€1,130.50</td></tr>",
                "<tr><td>Paid</td><td class=\"num\">−€200.00</td></tr>",
                "<tr class=\"due\"><td>Amount due</td><td class=\"num\">€930.50</td></tr>",
                "<tr><td>5 March 2026</td><td>Card</td><td class=\"num\">€300.00</td></tr>",
                "<td>Refund (Sepa debit)</td><td class=\"num\">-€100.00</td>",
                &format!("<a href=\"/i/{TOKEN}/pdf\""),
                "width=device-width",
                ".test-mode{",
            ],
        );
    }

    #[test]
    fn the_invoice_page_says_paid_or_refunded_without_a_pay_button() {
        let mut paid = invoice_with("Acme");
        (paid.status, paid.amount_paid, paid.amount_due) = ("paid".into(), 113_050, 0);
        paid.paid_at = Some(Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap());
        let notice = Notice::from_return("success", &paid);
        let html = invoice(&paid, TOKEN, notice, &settings(PaymentProviderSetting::Test))
            .render()
            .unwrap();
        assert_contains_all(
            &html,
            &[
                "<div class=\"notice ok\" role=\"status\">Thank you: this invoice is paid.</div>",
                "<span class=\"status paid\">Paid</span>",
                "€1,130.50 received on 10 March 2026, thank you. A receipt was sent by email.",
                "<tr class=\"due\"><td>Amount due</td><td class=\"num\">€0.00</td></tr>",
            ],
        );
        // Nothing to pay: no button, and no bank details.
        assert!(!html.contains("action=\"/i/") && !html.contains("Other ways to pay"), "{html}");

        let mut refunded = invoice_with("Acme");
        (refunded.status, refunded.amount_paid, refunded.has_pdf) = ("refunded".into(), 0, false);
        let html = invoice(&refunded, TOKEN, None, &settings(PaymentProviderSetting::Stripe))
            .render()
            .unwrap();
        assert!(html.contains("This invoice was paid and refunded in full."), "{html}");
        assert!(!html.contains("action=\"/i/") && !html.contains("Download the PDF"), "{html}");
        assert!(!html.contains("<tr><td>Paid</td>"), "nothing paid after the refund: {html}");
    }

    #[test]
    fn stored_values_shown_verbatim_are_escaped_too() {
        // A status without a label and a currency we cannot format are shown as stored.
        let mut inv = invoice_with("Acme");
        (inv.status, inv.currency) = (format!("odd{TYPED}"), format!("X{TYPED}"));
        let html =
            invoice(&inv, TOKEN, None, &settings(PaymentProviderSetting::Stripe)).render().unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert_contains_all(
            &html,
            &[
                &format!("<span class=\"status odd{ESCAPED}\">odd{ESCAPED}</span>"),
                &format!("<p class=\"amount-due\">93050 X{ESCAPED}</p>"),
            ],
        );
    }

    #[test]
    fn the_test_checkout_and_message_pages_escape_their_values() {
        let inv = invoice_with(TYPED);
        let session = format!("cs_{TYPED}");
        let html = test_checkout(&inv, TOKEN, &session).render().unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert_contains_all(
            &html,
            &[
                "<title>TEST MODE checkout</title>",
                "<div class=\"test-mode\">TEST MODE · no real payment is made</div>\n<main>",
                &format!(
                    "<p class=\"muted\">Invoice INV-{ESCAPED}-7 from Seller {ESCAPED} Ltd</p>"
                ),
                &format!("<form method=\"post\" action=\"/i/{TOKEN}/test-checkout\">"),
                &format!("<input type=\"hidden\" name=\"session\" value=\"cs_{ESCAPED}\">"),
                "value=\"pay\" type=\"submit\">Pay €930.50 (test)</button>",
                "value=\"fail\" type=\"submit\">Fail the payment (test)</button>",
                &format!("<a href=\"/i/{TOKEN}?checkout=cancelled\">Cancel and go back</a>"),
            ],
        );

        let (title, text) = (format!("Title {TYPED}"), format!("Text {TYPED}"));
        let html = message(&title, &text).render().unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert_contains_all(
            &html,
            &[
                &format!("<title>Title {ESCAPED}</title>"),
                &format!("<div class=\"card\"><h1>Title {ESCAPED}</h1>"),
                &format!("<p class=\"muted\">Text {ESCAPED}</p></div>"),
            ],
        );
        let html = not_found().render().unwrap();
        assert!(
            html.contains("<h1>Invoice not found</h1>") && !html.contains("test-mode\">"),
            "{html}"
        );
    }
}
