//! Invoice PDFs as a reader sees them: the text is extracted from the rendered bytes and checked
//! for what must be on the page, on every page, and nothing more.

use std::sync::{Arc, LazyLock};

use anyhow::{Context, Result, ensure};
use invoice_activities::pdf::{InvoiceDocument, PdfRenderer, sample_document};

/// One renderer for the whole file, as the worker would hold it.
static RENDERER: LazyLock<PdfRenderer> = LazyLock::new(PdfRenderer::new);

/// Renders `doc` and returns the text of each page.
fn render_pages(doc: &InvoiceDocument) -> Result<Vec<String>> {
    let pdf = RENDERER.render(doc).context("render")?;
    ensure!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let pages = pdf_extract::extract_text_from_mem_by_pages(&pdf).context("extract text")?;
    // The template puts zero-width spaces into tokens too long for their column; drop them so
    // assertions can name whole words.
    Ok(pages.into_iter().map(|page| page.replace('\u{200B}', "")).collect())
}

fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not found in extracted text:\n{text}");
}

#[test]
fn one_line_invoice_shows_parties_totals_and_footer() -> Result<()> {
    let doc = sample_document(1);
    let pages = render_pages(&doc)?;
    assert_eq!(pages.len(), 1, "a one-line invoice fits on one page");
    let text = &pages[0];
    for needle in [
        doc.number.as_str(),
        &doc.total,
        &doc.amount_due,
        &doc.client.name, // "Construcciones Peña Ibáñez S.L."
        &doc.seller.name, // "Müller & Weiß Softwarehaus GmbH"
        "VAT 19%",
        "Page 1 of 1",
        "€",
        "ü",
        "ß",
        "ñ",
        "invoices.example.com/i/7Qm2xV9kLp4RtY8wZ3nB",
    ] {
        assert_contains(text, needle);
    }
    Ok(())
}

#[test]
fn sixty_lines_span_pages_with_the_header_on_each() -> Result<()> {
    let doc = sample_document(60);
    let pages = render_pages(&doc)?;
    let count = pages.len();
    assert!(count > 1, "60 lines should need more than one page, got {count}");
    // Lines 7 to 60 are numbered "(#n)"; the first six are on page 1.
    let table_pages: Vec<&String> = pages
        .iter()
        .enumerate()
        .filter(|(i, p)| *i == 0 || p.contains("(#"))
        .map(|(_, p)| p)
        .collect();
    assert!(table_pages.len() > 1, "the table should span pages");
    for page in table_pages {
        for header in ["DESCRIPTION", "QUANTITY", "UNIT PRICE", "AMOUNT"] {
            assert_contains(page, header);
        }
    }
    for (i, page) in pages.iter().enumerate() {
        assert_contains(page, &format!("Page {} of {count}", i + 1));
    }
    // Every line made it onto some page, the last one included, and the totals follow.
    let all = pages.concat();
    assert_contains(&all, "(#60)");
    assert_contains(&all, &doc.total);
    Ok(())
}

#[test]
fn markup_in_data_is_printed_not_evaluated() -> Result<()> {
    let hostile = r#"#panic("x") *bold* $x$ [link] <label> \ @ref _em_ `raw` // no comment"#;
    let mut doc = sample_document(2);
    doc.client.name = hostile.to_owned();
    doc.lines[0].description = hostile.to_owned();
    doc.notes = Some(r#"#set page(width: 1cm) ]) } #{"#.to_owned());
    let text = render_pages(&doc)?.concat();
    // Normalise whitespace: extraction may split a long name across lines.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_contains(&flat, hostile);
    assert_contains(&flat, r#"#set page(width: 1cm) ]) } #{"#);
    Ok(())
}

#[test]
fn rendering_is_byte_for_byte_deterministic() -> Result<()> {
    let doc = sample_document(20);
    let first = RENDERER.render(&doc)?;
    // Another renderer and other documents in between must not change the bytes either.
    RENDERER.render(&sample_document(3))?;
    let second = PdfRenderer::new().render(&doc)?;
    ensure!(first == second, "two renders of the same document differ");
    Ok(())
}

#[test]
fn optional_blocks_can_be_left_out() -> Result<()> {
    let mut doc = sample_document(1);
    doc.status = None;
    doc.discount = None;
    doc.tax = None;
    doc.notes = None;
    doc.payment_instructions = None;
    doc.hosted_url = None;
    doc.seller.email = None;
    doc.client.tax_id = None;
    let text = render_pages(&doc)?.concat();
    assert_contains(&text, &doc.total);
    assert!(!text.contains("VAT"), "tax row printed without a tax");
    assert!(!text.contains("PAYMENT INSTRUCTIONS"), "empty section printed");
    Ok(())
}

#[test]
fn one_renderer_serves_concurrent_renders() -> Result<()> {
    let renderer = Arc::new(PdfRenderer::new());
    let expected = renderer.render(&sample_document(5))?;
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let renderer = Arc::clone(&renderer);
            std::thread::spawn(move || renderer.render(&sample_document(5)))
        })
        .collect();
    for handle in handles {
        let pdf = handle.join().map_err(|_| anyhow::anyhow!("render thread panicked"))??;
        ensure!(pdf == expected, "a concurrent render differs");
    }
    Ok(())
}
