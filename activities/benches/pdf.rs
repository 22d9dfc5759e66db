//! How long one invoice PDF takes: renders the 20-line sample N times (default 200, or the
//! `PDF_BENCH_ITERATIONS` environment variable) with one shared renderer and prints the mean,
//! p50 and p99 per invoice and the PDF size. With `PDF_BENCH_OUT=<path>` it also writes the PDF
//! there, for looking at the layout.
//!
//! `cargo bench -p invoice-activities --bench pdf` (release profile).
//!
//! Two series: the same document again and again, and a different document each time (another
//! number and other line texts). typst memoises layout, so the first series mostly measures cache
//! hits; the second is what a worker rendering many different invoices sees.

use std::time::{Duration, Instant};

use invoice_activities::pdf::{InvoiceDocument, PdfRenderer, sample_document};

const LINES: usize = 20;
const DEFAULT_ITERATIONS: usize = 200;

fn main() {
    let iterations = std::env::var("PDF_BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(DEFAULT_ITERATIONS);

    let started = Instant::now();
    let renderer = PdfRenderer::new();
    let setup = started.elapsed();

    let doc = sample_document(LINES);
    let started = Instant::now();
    let pdf = renderer.render(&doc).expect("the sample invoice renders");
    let first = started.elapsed();

    println!("invoice PDF, {LINES} lines, {iterations} renders per series");
    println!("  renderer setup          {:>8.2} ms", ms(setup));
    println!("  first render (cold)     {:>8.2} ms", ms(first));
    report("same document", &renderer, iterations, |_| doc.clone());
    report("different documents", &renderer, iterations, distinct);
    println!("  PDF size                {:>8} bytes ({:.1} KiB)", pdf.len(), kib(pdf.len()));

    if let Some(chromium) = std::env::var_os("CHROMIUM") {
        compare_with_chromium(&chromium, &renderer);
    }

    if let Some(path) = std::env::var_os("PDF_BENCH_OUT") {
        std::fs::write(&path, &pdf).expect("the PDF can be written");
        println!("  written to              {}", path.to_string_lossy());
    }
}

/// Renders `iterations` documents made by `make`, prints the per-invoice figures and answers
/// the mean in milliseconds.
fn report(
    series: &str,
    renderer: &PdfRenderer,
    iterations: usize,
    make: impl Fn(usize) -> InvoiceDocument,
) -> f64 {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|i| {
            let doc = make(i);
            let started = Instant::now();
            let pdf = renderer.render(&doc).expect("the sample invoice renders");
            let elapsed = started.elapsed();
            std::hint::black_box(pdf);
            elapsed
        })
        .collect();
    times.sort();
    let mean = times.iter().map(|&d| ms(d)).sum::<f64>() / times.len() as f64;
    let percentile = |p: usize| ms(times[(times.len() * p / 100).min(times.len() - 1)]);
    println!(
        "  {series:<23} mean {mean:>6.2} ms   p50 {:>6.2} ms   p99 {:>6.2} ms",
        percentile(50),
        percentile(99)
    );
    mean
}

/// What Invoice Ninja (Browsershot) and others do: the same invoice as an HTML page, printed by
/// a headless Chromium started for it (`--print-to-pdf`). Compared with typst on the same
/// documents, a different one each time, and printed as a ratio.
fn compare_with_chromium(chromium: &std::ffi::OsStr, renderer: &PdfRenderer) {
    let runs: usize =
        std::env::var("CHROMIUM_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("pdf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut chromium_times = Vec::new();
    for i in 0..runs {
        let html = dir.join(format!("invoice-{i}.html"));
        let pdf = dir.join(format!("invoice-{i}.pdf"));
        std::fs::write(&html, to_html(&distinct(i))).unwrap();
        let started = Instant::now();
        let status = std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-pdf-header-footer",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(format!("file://{}", html.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("Chromium starts");
        let elapsed = started.elapsed();
        assert!(status.success() && pdf.exists(), "Chromium did not print {}", html.display());
        chromium_times.push(ms(elapsed));
    }
    let chromium_mean = chromium_times.iter().sum::<f64>() / runs as f64;
    let typst_mean = report("typst, those invoices", renderer, runs.max(50), distinct);
    println!(
        "  Chromium --print-to-pdf mean {chromium_mean:>6.1} ms ({runs} invoices as HTML, a browser each)"
    );
    println!("  typst is {:.0}x faster than Chromium", chromium_mean / typst_mean);
    std::fs::remove_dir_all(&dir).ok();
}

/// The invoice as one self-contained HTML page, laid out like the PDF.
fn to_html(doc: &InvoiceDocument) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut rows = String::new();
    for line in &doc.lines {
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&line.description),
            esc(&line.quantity),
            esc(&line.unit_price),
            esc(&line.amount)
        ));
    }
    let mut totals = format!("<tr><td>Subtotal</td><td class=n>{}</td></tr>", esc(&doc.subtotal));
    for adjustment in [&doc.discount, &doc.tax].into_iter().flatten() {
        totals.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td></tr>",
            esc(&adjustment.label),
            esc(&adjustment.amount)
        ));
    }
    totals.push_str(&format!("<tr><th>Total</th><th class=n>{}</th></tr>", esc(&doc.total)));
    totals.push_str(&format!(
        "<tr><th>Amount due</th><th class=n>{}</th></tr>",
        esc(&doc.amount_due)
    ));
    format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Invoice {number}</title>\
         <style>body{{font:10pt sans-serif;margin:2cm}}table{{width:100%;border-collapse:collapse}}\
         td,th{{padding:4px;border-bottom:1px solid #ddd;text-align:left}}.n{{text-align:right}}\
         .parties{{display:flex;justify-content:space-between}}</style>\
         <h1>Invoice {number}</h1><p>Issued {issue} &middot; due {due} &middot; {currency}</p>\
         <div class=parties><div><b>{seller}</b><br>{seller_address}</div>\
         <div><b>Bill to</b><br>{client}<br>{client_address}</div></div>\
         <table><tr><th>Description</th><th class=n>Qty</th><th class=n>Unit price</th><th class=n>Amount</th></tr>{rows}</table>\
         <table style=\"width:40%;margin-left:60%\">{totals}</table><p>{notes}</p></html>",
        number = esc(&doc.number),
        issue = esc(&doc.issue_date),
        due = esc(&doc.due_date),
        currency = esc(&doc.currency),
        seller = esc(&doc.seller.name),
        seller_address =
            doc.seller.address_lines.iter().map(|l| esc(l)).collect::<Vec<_>>().join("<br>"),
        client = esc(&doc.client.name),
        client_address =
            doc.client.address_lines.iter().map(|l| esc(l)).collect::<Vec<_>>().join("<br>"),
        notes = esc(doc.notes.as_deref().unwrap_or_default()),
    )
}

/// The sample with its number and every line text changed, so no page is a cache hit.
fn distinct(i: usize) -> InvoiceDocument {
    let mut doc = sample_document(LINES);
    doc.number = format!("INV-2026-{:05}", 10_000 + i);
    for line in &mut doc.lines {
        line.description = format!("{} (order {i})", line.description);
    }
    doc
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}
