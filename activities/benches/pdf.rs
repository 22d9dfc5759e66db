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

    if let Some(path) = std::env::var_os("PDF_BENCH_OUT") {
        std::fs::write(&path, &pdf).expect("the PDF can be written");
        println!("  written to              {}", path.to_string_lossy());
    }
}

/// Renders `iterations` documents made by `make` and prints the per-invoice figures.
fn report(
    series: &str,
    renderer: &PdfRenderer,
    iterations: usize,
    make: impl Fn(usize) -> InvoiceDocument,
) {
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
