//! `invoice-api demo-data`: a demo organisation whose dashboard is populated on a fresh install.
//!
//! Everything is derived from a seed, so two runs (or two machines) produce the same figures,
//! and a second run changes nothing. It writes two kinds of invoice:
//! - **History** (the past weeks): settled invoices (paid, refunded or void) with their lines,
//!   payments and timeline (sent, views by device, checkouts, payments). Their lives ended
//!   before the demo began, so, like any invoice whose run has completed, they have no running
//!   workflow; they are imported rows, numbered `DEMO-…`, and no action applies to them.
//! - **Open invoices** (today): created through the same path as `POST /api/invoices`, so each
//!   runs as a real workflow (rendered, emailed, reminded). This needs Temporal and a worker.

use std::time::Duration as StdDuration;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use invoice_domain::{
    Actor, Device, EmailKind, InvoiceStatus, PaymentMethod, PaymentProvider, TimelineEvent,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::{Auth, Principal, Role, password};
use crate::config::Config;
use crate::invoices::start_invoice;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The demo owner's email (the login of the demo organisation).
    #[arg(long = "demo-email", default_value = "demo@example.com")]
    pub email: String,
    /// The demo owner's password.
    #[arg(long = "demo-password", default_value = "demo-password")]
    pub password: String,
    /// Seed of the generator: the same seed gives the same data.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Weeks of history before today.
    #[arg(long, default_value_t = 16)]
    pub weeks: u32,
    /// Open invoices started as real workflows (0 to skip Temporal).
    #[arg(long, default_value_t = 6)]
    pub open: u32,
}

const CUSTOMERS: [(&str, &str, &str); 8] = [
    ("Northwind Traders", "billing@northwind.example", "EUR"),
    ("Acme Robotics", "ap@acme-robotics.example", "EUR"),
    ("Blue Harbor Studio", "finance@blueharbor.example", "EUR"),
    ("Kestrel Analytics", "accounts@kestrel.example", "EUR"),
    ("Mistral Foods", "compta@mistral-foods.example", "EUR"),
    ("Orchid Health", "payables@orchid.example", "USD"),
    ("Pinecone Labs", "billing@pinecone-labs.example", "USD"),
    ("Quayside Logistics", "invoices@quayside.example", "EUR"),
];

const SERVICES: [(&str, i64); 6] = [
    ("Design sprint", 180_000),
    ("Web development (hour)", 9_500),
    ("Hosting and maintenance (month)", 45_000),
    ("Brand workshop", 120_000),
    ("Copywriting (page)", 15_000),
    ("Support retainer (month)", 60_000),
];

/// A small, fixed generator (SplitMix64): the same seed gives the same sequence everywhere.
/// Also what `make bench` draws its million invoices from.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// In `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A stable id for a named demo thing.
fn demo_id(seed: u64, email: &str, what: &str) -> Uuid {
    let digest = Sha256::digest(format!("demo:{seed}:{email}:{what}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default()).and_utc()
}

pub async fn run(config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
    let state = crate::build_state(config).await?;
    let summary = fill(&state, args).await?;
    println!(
        "demo organisation {}: {} history invoices ({} new); log in as {} / {}",
        summary.org_id, summary.history, summary.written, args.email, args.password
    );
    Ok(())
}

/// What `fill` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    pub org_id: Uuid,
    pub history: usize,
    /// History invoices written by this run (0 when the demo was filled before).
    pub written: u64,
}

/// Creates or completes the demo organisation; see the module documentation.
pub async fn fill(state: &crate::AppState, args: &DemoArgs) -> anyhow::Result<DemoSummary> {
    let db = &state.db;
    let (org_id, user_id) =
        (demo_id(args.seed, &args.email, "org"), demo_id(args.seed, &args.email, "user"));
    let password_hash = password::hash(args.password.clone()).await?;
    let mut tx = db.begin().await?;
    // The owner: an existing account with this email keeps its password and id.
    let user_id = sqlx::query_scalar!(
        "INSERT INTO users (id, email, password_hash, email_verified_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (lower(email)) DO UPDATE SET email = users.email RETURNING id",
        user_id,
        args.email,
        password_hash
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO organizations (id, name, default_currency, seller_details, payment_instructions)
         VALUES ($1, 'Demo Studio', 'EUR', $2, 'Bank transfer: IBAN DE89 3704 0044 0532 0130 00')
         ON CONFLICT (id) DO NOTHING",
        org_id,
        json!({"legalName": "Demo Studio GmbH", "addressLines": ["Torstraße 1", "10119 Berlin", "Germany"],
               "email": "billing@demo-studio.example", "taxId": "DE123456789"})
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING",
        org_id,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    let mut customers = Vec::new();
    for (name, email, currency) in CUSTOMERS {
        let id = demo_id(args.seed, &args.email, name);
        sqlx::query!(
            "INSERT INTO customers (id, org_id, name, email, currency, time_zone, locale)
             VALUES ($1, $2, $3, $4, $5, 'Europe/Berlin', 'en') ON CONFLICT (id) DO NOTHING",
            id,
            org_id,
            name,
            email,
            currency
        )
        .execute(&mut *tx)
        .await?;
        customers.push((id, name, email, currency));
    }
    let today = Utc::now().date_naive();
    let history = history(args, org_id, &customers, today);
    let mut written = 0;
    for invoice in &history {
        written += write_invoice(&mut tx, org_id, user_id, invoice).await?;
    }
    tx.commit().await?;
    if args.open > 0 {
        start_open_invoices(state, args, org_id, user_id, &customers, today).await?;
    }
    Ok(DemoSummary { org_id, history: history.len(), written })
}

struct DemoInvoice {
    id: Uuid,
    number: String,
    customer: (Uuid, String, String),
    currency: String,
    issue: NaiveDate,
    due: NaiveDate,
    lines: Vec<(String, i64, i64)>,
    total: i64,
    /// Settled as: `paid`, `refunded` or `void`.
    status: &'static str,
    paid: Option<(DateTime<Utc>, &'static str)>,
    views: Vec<(DateTime<Utc>, &'static str)>,
    checkout: Option<DateTime<Utc>>,
}

fn history(
    args: &DemoArgs,
    org_id: Uuid,
    customers: &[(Uuid, &str, &str, &str)],
    today: NaiveDate,
) -> Vec<DemoInvoice> {
    let mut rng = Rng(args.seed);
    let mut out = Vec::new();
    let first_monday = today
        - Duration::days(today.weekday().num_days_from_monday() as i64)
        - Duration::weeks(args.weeks as i64);
    for week in 0..args.weeks {
        let per_week = 4 + rng.below(6);
        for _ in 0..per_week {
            let issue =
                first_monday + Duration::weeks(week as i64) + Duration::days(rng.below(5) as i64);
            let (customer_id, name, email, currency) =
                customers[rng.below(customers.len() as u64) as usize];
            let mut lines = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let (description, price) = SERVICES[rng.below(SERVICES.len() as u64) as usize];
                lines.push((description.to_owned(), 1 + rng.below(4) as i64, price));
            }
            let total: i64 = lines.iter().map(|(_, q, p)| q * p).sum();
            // Most clients pay within a month; some take longer, a few never do (void).
            let days_to_pay = match rng.below(10) {
                0..=3 => 1 + rng.below(10),
                4..=7 => 10 + rng.below(20),
                _ => 30 + rng.below(30),
            } as i64;
            let roll = rng.below(100);
            let channel = match rng.below(100) {
                0..=54 => "card",
                55..=84 => "bank_transfer",
                85..=94 => "wallet",
                _ => "other",
            };
            let mut views = Vec::new();
            for v in 0..rng.below(4) {
                let device = match rng.below(100) {
                    0..=54 => "desktop",
                    55..=89 => "mobile",
                    _ => "tablet",
                };
                let day = issue + Duration::days((v as i64 * 2 + 1).min(days_to_pay));
                let when = at(day, 9 + rng.below(10) as u32, rng.below(60) as u32);
                // Draws are made either way, so later invoices do not depend on the date.
                if day < today {
                    views.push((when, device));
                }
            }
            let paid_day = issue + Duration::days(days_to_pay);
            let (status, paid) = if roll < 5 {
                ("void", None)
            } else if paid_day >= today {
                // Not paid yet by today: open invoices are the real workflows started below.
                continue;
            } else if roll < 8 {
                ("refunded", Some((at(paid_day, 14, 5), channel)))
            } else {
                (
                    "paid",
                    Some((at(paid_day, 10 + rng.below(8) as u32, rng.below(60) as u32), channel)),
                )
            };
            let checkout = ((paid.is_some() && channel != "bank_transfer") || rng.chance(20))
                .then(|| at(paid_day.min(today - Duration::days(1)), 8, 30));
            let n = out.len() + 1;
            out.push(DemoInvoice {
                id: demo_id(args.seed, &org_id.to_string(), &format!("invoice:{n}")),
                number: format!("DEMO-{}-{n:04}", issue.year()),
                customer: (customer_id, name.to_owned(), email.to_owned()),
                currency: currency.to_owned(),
                issue,
                due: issue + Duration::days(30),
                lines,
                total,
                status,
                paid,
                views,
                checkout,
            });
        }
    }
    // One outstanding day for the anomaly marker: a large retainer settled at once.
    if let Some(big) =
        out.iter_mut().rev().find(|i| i.status == "paid" && i.issue < today - Duration::days(21))
    {
        big.lines.push(("Annual support retainer".to_owned(), 1, 1_800_000));
        big.total += 1_800_000;
    }
    out
}

/// Writes one history invoice with its lines, payments and timeline; 0 if it was there already.
async fn write_invoice(
    tx: &mut sqlx::PgConnection,
    org_id: Uuid,
    owner: Uuid,
    inv: &DemoInvoice,
) -> anyhow::Result<u64> {
    let created = at(inv.issue, 8, 0);
    let paid_at = inv.paid.map(|(t, _)| t);
    let amount_paid = if inv.status == "paid" { inv.total } else { 0 };
    let voided_at = (inv.status == "void").then(|| at(inv.issue + Duration::days(40), 12, 0));
    let inserted = sqlx::query!(
        "INSERT INTO invoices (id, org_id, customer_id, workflow_id, number, status, currency,
             issue_date, due_date, subtotal, discount_total, tax_total, total, amount_paid,
             client_name, client_email, created_by, created_at, updated_at, finalized_at, sent_at,
             paid_at, voided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, $10, $11, $12, $13, 'demo-data',
                 $14, $17, $14, $14, $15, $16)
         ON CONFLICT (id) DO NOTHING",
        inv.id,
        org_id,
        inv.customer.0,
        format!("invoice:{org_id}:{}", inv.id),
        inv.number,
        inv.status,
        inv.currency,
        inv.issue,
        inv.due,
        inv.total,
        amount_paid,
        inv.customer.1,
        inv.customer.2,
        created,
        paid_at,
        voided_at,
        voided_at.or(paid_at).unwrap_or(created),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(0);
    }
    for (position, (description, quantity, unit_price)) in inv.lines.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO invoice_lines (invoice_id, position, org_id, description, quantity, unit_price, amount)
             VALUES ($1, $2, $3, $4, $5::bigint::numeric, $6, $7)",
            inv.id,
            position as i32,
            org_id,
            description,
            quantity,
            unit_price,
            quantity * unit_price
        )
        .execute(&mut *tx)
        .await?;
    }
    if let Some((when, method)) = inv.paid {
        insert_payment(tx, org_id, inv, "pay", inv.total, method, when).await?;
        if inv.status == "refunded" {
            let refunded = when + Duration::days(3);
            insert_payment(tx, org_id, inv, "refund", -inv.total, method, refunded).await?;
        }
    }
    let events = history_events(inv, Actor::User(owner.into()), created, voided_at)?;
    for (n, (actor, event, when)) in events.into_iter().enumerate() {
        sqlx::query!(
            "INSERT INTO invoice_events (org_id, invoice_id, kind, actor, data, occurred_at, dedup_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            org_id,
            inv.id,
            event.kind().as_str(),
            actor.to_string(),
            event.data(),
            when,
            format!("demo:{n}")
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(1)
}

/// The timeline of a history invoice: created, finalized, sent, viewed, maybe a checkout, paid
/// (and refunded) or void.
fn history_events(
    inv: &DemoInvoice,
    owner: Actor,
    created: DateTime<Utc>,
    voided_at: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<(Actor, TimelineEvent, DateTime<Utc>)>> {
    let mut events = vec![
        (
            owner.clone(),
            TimelineEvent::Created { status: InvoiceStatus::Open, total: inv.total },
            created,
        ),
        (
            Actor::System,
            TimelineEvent::Finalized { number: inv.number.clone(), issue_date: inv.issue },
            created,
        ),
        (
            Actor::System,
            TimelineEvent::EmailSent {
                kind: EmailKind::Invoice,
                manual: false,
                message_id: format!("demo-{}", inv.number),
                to: inv.customer.2.clone(),
            },
            created + Duration::minutes(1),
        ),
    ];
    for (when, device) in &inv.views {
        let device = Device::parse(device).context("a demo device")?;
        events.push((Actor::Client, TimelineEvent::Viewed { device }, *when));
    }
    if let Some(when) = inv.checkout {
        let started = TimelineEvent::CheckoutStarted {
            session_id: format!("cs_demo_{}", inv.number),
            amount: inv.total,
            provider: PaymentProvider::Local,
        };
        events.push((Actor::Client, started, when));
    }
    if let Some((when, method)) = inv.paid {
        let method = PaymentMethod::parse(method).context("a demo payment method")?;
        let recorded = TimelineEvent::PaymentRecorded {
            event_id: "demo:pay".to_owned(),
            amount: inv.total,
            method,
            reference: None,
            overpaid: None,
        };
        events.push((Actor::System, recorded, when));
        if inv.status == "refunded" {
            let refund = TimelineEvent::RefundRecorded {
                event_id: "demo:refund".to_owned(),
                amount: inv.total,
                total_refunded: inv.total,
                reference: "demo:pay".to_owned(),
                method,
            };
            events.push((Actor::System, refund, when + Duration::days(3)));
        }
    }
    if let Some(when) = voided_at {
        events.push((owner, TimelineEvent::Voided { reason: None }, when));
    }
    Ok(events)
}

async fn insert_payment(
    tx: &mut sqlx::PgConnection,
    org_id: Uuid,
    inv: &DemoInvoice,
    what: &str,
    amount: i64,
    method: &str,
    when: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO payments (id, org_id, invoice_id, event_id, amount, currency, method, paid_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'demo-data')",
        demo_id(0, &inv.id.to_string(), what),
        org_id,
        inv.id,
        format!("demo:{what}"),
        amount,
        inv.currency,
        method,
        when
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Today's open invoices, each a real workflow; the idempotency keys make a rerun a no-op.
async fn start_open_invoices(
    state: &crate::AppState,
    args: &DemoArgs,
    org_id: Uuid,
    user_id: Uuid,
    customers: &[(Uuid, &str, &str, &str)],
    today: NaiveDate,
) -> anyhow::Result<()> {
    let auth = Auth { principal: Principal::User(user_id), org_id, role: Role::Owner };
    let mut rng = Rng(args.seed ^ 0x0DE7);
    for n in 0..args.open {
        let (customer_id, _, _, currency) = customers[rng.below(customers.len() as u64) as usize];
        let (description, price) = SERVICES[rng.below(SERVICES.len() as u64) as usize];
        let request = serde_json::from_value(json!({
            "customerId": customer_id,
            "currency": currency,
            "dueDate": (today + Duration::days(7 + rng.below(21) as i64)).to_string(),
            "items": [{"description": description, "quantity": (1 + rng.below(3)).to_string(),
                       "unitPrice": format!("{}.{:02}", price / 100, price % 100)}],
        }))?;
        let key = format!("demo-open-{}-{n}", args.seed);
        let started = tokio::time::timeout(
            StdDuration::from_secs(60),
            start_invoice(state, &auth, &request, Some(key)),
        )
        .await;
        match started {
            Ok(Ok((_, invoice))) => println!("open invoice {} ({})", invoice.id, invoice.status),
            Ok(Err(err)) => anyhow::bail!(
                "could not start the demo's open invoices ({err}); is Temporal up and a worker running? \
                 Run again with --open 0 to skip them"
            ),
            Err(_) => {
                anyhow::bail!("starting a demo invoice took over a minute; is a worker running?")
            }
        }
    }
    Ok(())
}
