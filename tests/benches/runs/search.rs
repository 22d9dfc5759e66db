//! Search at scale: `SEARCH_INVOICES` invoices (default 1 000 000, one line each, 5 000
//! customers, three years) loaded with COPY into one organisation, then p50/p99 of
//! `GET /api/invoices` for a status, a customer, a text and a date-range filter, each against
//! its floor: the very SQL the endpoint runs (`invoice_api::invoices::list_query`), executed
//! bare on a pooled connection with no HTTP, auth or JSON.
//!
//! Run by `make bench` (scripts/bench.sh), which starts the API on a fresh database and sets
//! `BENCH_API_URL` and `BENCH_DATABASE_URL`; `SEARCH_QUERIES` (default 200) is the number of
//! requests per filter.

use crate::support::{env_or, required};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use invoice_api::demo::Rng;
use invoice_api::invoices::{ListParams, list_query};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const CUSTOMERS: usize = 5_000;
const WORDS: [&str; 12] = [
    "Consulting",
    "Design",
    "Hosting",
    "Support",
    "Licence",
    "Workshop",
    "Audit",
    "Migration",
    "Training",
    "Maintenance",
    "Research",
    "Photography",
];
const STATUSES: [(&str, usize); 6] =
    [("paid", 60), ("sent", 20), ("overdue", 10), ("void", 5), ("draft", 3), ("partially_paid", 2)];

/// Draws from the demo data's seeded generator, so every run loads the same data.
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

fn customer_id(c: usize) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 | c as u128)
}

async fn copy(db: &PgPool, statement: &str, data: &[u8]) {
    let mut conn = db.acquire().await.unwrap();
    let mut copy = conn.copy_in_raw(statement).await.expect("COPY");
    copy.send(data).await.expect("COPY data");
    copy.finish().await.expect("COPY finish");
}

/// Loads customers, invoices and their lines, in chunks of 100 000 rows.
async fn load(db: &PgPool, org: Uuid, invoices: usize) -> Duration {
    let started = Instant::now();
    let mut data = String::new();
    for c in 0..CUSTOMERS {
        data.push_str(&format!(
            "{}\t{org}\tCustomer {c} Ltd\tbilling{c}@customer{c}.example\tEUR\tUTC\ten-US\n",
            customer_id(c)
        ));
    }
    copy(
        db,
        "COPY customers (id, org_id, name, email, currency, time_zone, locale) FROM STDIN",
        data.as_bytes(),
    )
    .await;
    // Bulk loads skip the live-update trigger (one NOTIFY per row would flood the listeners).
    sqlx::query("ALTER TABLE invoices DISABLE TRIGGER invoices_notify_change")
        .execute(db)
        .await
        .unwrap();
    let mut rng = Rng(42);
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let span = 3 * 365;
    let chunk = 100_000;
    let mut done = 0;
    while done < invoices {
        let n = chunk.min(invoices - done);
        let (mut rows, mut lines) = (String::new(), String::new());
        for k in done..done + n {
            // Spread over three years in order, so created_at grows with k like real data.
            let day = start + Days::days((k * span / invoices) as i64);
            let c = below(&mut rng, CUSTOMERS);
            let mut pick = below(&mut rng, 100);
            let status = STATUSES
                .iter()
                .find(|(_, share)| {
                    let hit = pick < *share;
                    pick = pick.saturating_sub(*share);
                    hit
                })
                .map_or("paid", |s| s.0);
            let id = Uuid::from_u128(0xb0b0_0000_0000_0000_0000_0000_0000_0000 | k as u128);
            let total = 1_000 + below(&mut rng, 500_000) as i64;
            let number = if status == "draft" {
                "\\N".to_owned()
            } else {
                format!("INV-{}-{:07}", day.format("%Y"), k + 1)
            };
            let created =
                format!("{day} {:02}:{:02}:00+00", below(&mut rng, 24), below(&mut rng, 60));
            rows.push_str(&format!(
                "{id}\t{org}\t{cid}\tinvoice:{org}:{id}\t{number}\t{status}\tEUR\t{day}\t{due}\t{total}\t0\t0\t{total}\tCustomer {c} Ltd\tbilling{c}@customer{c}.example\tbench\t{created}\t{created}\n",
                cid = customer_id(c),
                due = day + Days::days(30),
            ));
            let word = WORDS[below(&mut rng, WORDS.len())];
            lines.push_str(&format!(
                "{id}\t1\t{org}\t{word} for project P{:05}\t1\t{total}\t{total}\n",
                below(&mut rng, 20_000)
            ));
        }
        copy(
            db,
            "COPY invoices (id, org_id, customer_id, workflow_id, number, status, currency, issue_date, due_date, subtotal, discount_total, tax_total, total, client_name, client_email, created_by, created_at, updated_at) FROM STDIN",
            rows.as_bytes(),
        )
        .await;
        copy(
            db,
            "COPY invoice_lines (invoice_id, position, org_id, description, quantity, unit_price, amount) FROM STDIN",
            lines.as_bytes(),
        )
        .await;
        done += n;
    }
    sqlx::query("ALTER TABLE invoices ENABLE TRIGGER invoices_notify_change")
        .execute(db)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE invoices").execute(db).await.unwrap();
    sqlx::query("VACUUM ANALYZE invoice_lines").execute(db).await.unwrap();
    sqlx::query("VACUUM ANALYZE customers").execute(db).await.unwrap();
    started.elapsed()
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at =
        |p: f64| times[(((times.len() - 1) as f64) * p).round() as usize].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}

pub(crate) async fn run() {
    let api = required("BENCH_API_URL");
    let db = PgPool::connect(&required("BENCH_DATABASE_URL")).await.expect("database");
    let invoices = env_or("SEARCH_INVOICES", 1_000_000);
    let queries = env_or("SEARCH_QUERIES", 200);
    let http = reqwest::Client::new();

    let registered: Value = http
        .post(format!("{api}/api/auth/register"))
        .json(&json!({ "email": format!("search-{}@bench.test", Uuid::new_v4().simple()), "password": "BenchPassword123!" }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .unwrap();
    let token = registered["accessToken"].as_str().expect("token").to_owned();
    let org: Uuid = registered["organization"]["id"].as_str().unwrap().parse().unwrap();
    let loaded = load(&db, org, invoices).await;
    println!(
        "search: {invoices} invoices (one line each, {CUSTOMERS} customers) loaded with COPY in {:.1} s",
        loaded.as_secs_f64()
    );

    // Each filter varies per request (another customer, word or month) so no answer is cached.
    type Filter = fn(usize) -> Vec<(&'static str, String)>;
    let filters: [(&str, Filter); 4] = [
        ("status", |i| {
            vec![(
                "status",
                ["overdue", "sent,overdue", "partially_paid", "draft"][i % 4].to_owned(),
            )]
        }),
        ("customer", |i| vec![("customerId", customer_id(i * 37 % CUSTOMERS).to_string())]),
        ("text", |i| {
            let q = match i % 3 {
                0 => format!("Customer {} Ltd", i * 53 % CUSTOMERS),
                1 => format!("P{:05}", i * 97 % 20_000),
                _ => format!("INV-2025-{:07}", 400_000 + i * 11),
            };
            vec![("q", q)]
        }),
        ("date range", |i| {
            let from =
                NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + Days::days((i * 5 % 1000) as i64);
            vec![("from", from.to_string()), ("to", (from + Days::days(30)).to_string())]
        }),
    ];
    println!(
        "  {:<11} {:>9} {:>9}   {:>9} {:>9}   {:>7}",
        "filter", "API p50", "API p99", "SQL p50", "SQL p99", "p99 x"
    );
    for (name, filter) in filters {
        let (mut api_times, mut sql_times) = (Vec::new(), Vec::new());
        for i in 0..queries {
            let params = filter(i);
            let started = Instant::now();
            let res = http
                .get(format!("{api}/api/invoices"))
                .bearer_auth(&token)
                .query(&params)
                .send()
                .await
                .expect("GET /api/invoices");
            assert_eq!(res.status(), 200, "{name}: {}", res.text().await.unwrap_or_default());
            let page: Value = res.json().await.unwrap();
            api_times.push(started.elapsed());
            assert!(page["items"].is_array());

            let as_json: serde_json::Map<String, Value> =
                params.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect();
            let p: ListParams = serde_json::from_value(Value::Object(as_json)).unwrap();
            let mut query = list_query(org, &p).expect("valid parameters");
            let started = Instant::now();
            let rows = query.sql.build().fetch_all(&db).await.expect("the list SQL");
            sql_times.push(started.elapsed());
            std::hint::black_box(rows);
        }
        let (api50, api99) = percentiles(api_times);
        let (sql50, sql99) = percentiles(sql_times);
        println!(
            "  {name:<11} {api50:>6.2} ms {api99:>6.2} ms   {sql50:>6.2} ms {sql99:>6.2} ms   {:>6.2}x",
            api99 / sql99
        );
    }
    println!("  (targets: API p99 < 20 ms and <= 2x the bare SQL's p99)");
}
