//! Invoice PDFs: typst, used as a library, lays out an [`InvoiceDocument`] with the template in
//! `templates/invoice.typ` and the Inter fonts in `fonts/`, both compiled into the binary.
//!
//! The invoice reaches the template as a JSON data file that the template reads with `json(..)`;
//! it is never spliced into markup, so a client called `#panic("x")` is printed, not run.
//! Output is deterministic: no clock, no system fonts, no creation date, so rendering the same
//! document twice gives the same bytes (a retried activity stores an identical file).

mod document;
mod sample;
mod world;

pub use document::{Adjustment, InvoiceDocument, InvoiceLine, Labels, Party};
pub use sample::sample_document;

use typst::diag::Warned;
use typst::foundations::Smart;
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

use world::{Assets, InvoiceWorld};

/// typst memoises layout work in a process-wide cache. Entries unused for this many renders are
/// dropped after each render: the worker's memory stays bounded, while what every invoice shares
/// (the template, font shaping of the fixed texts) stays warm.
const CACHE_MAX_AGE: usize = 8;

/// Why an invoice could not be rendered. Every variant is permanent: rendering is a pure
/// function of the document, so a retry with the same document fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The document could not be turned into the template's JSON input.
    #[error("invoice document could not be serialised for the template: {0}")]
    Serialize(#[from] serde_json::Error),
    /// typst rejected the template or the data (e.g. an unknown `labels.lang`); the message
    /// carries typst's diagnostics with template line numbers.
    #[error("invoice template failed to compile: {0}")]
    Compile(String),
    /// The laid-out document could not be written as PDF.
    #[error("invoice PDF export failed: {0}")]
    Export(String),
}

/// Renders invoices to PDF. Build it once and share it (it is `Send + Sync`, e.g. in an `Arc`):
/// the template is parsed and the fonts are loaded here, not per render.
pub struct PdfRenderer {
    assets: Assets,
}

impl Default for PdfRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PdfRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfRenderer").field("fonts", &self.assets.font_count()).finish()
    }
}

impl PdfRenderer {
    /// Parses the embedded template and loads the embedded fonts.
    pub fn new() -> Self {
        Self { assets: Assets::load() }
    }

    /// Lays out `doc` and returns the PDF bytes. Safe to call from several threads at once.
    pub fn render(&self, doc: &InvoiceDocument) -> Result<Vec<u8>, PdfError> {
        let data = serde_json::to_vec(doc)?;
        let world = InvoiceWorld::new(&self.assets, data);
        let Warned { output, warnings } = typst::compile::<PagedDocument>(&world);
        if !warnings.is_empty() {
            tracing::warn!(warnings = %world.describe(&warnings), "invoice template warnings");
        }
        let pdf = output.map_err(|errors| PdfError::Compile(world.describe(&errors))).and_then(
            |document| {
                typst_pdf::pdf(&document, &pdf_options())
                    .map_err(|errors| PdfError::Export(world.describe(&errors)))
            },
        );
        typst::comemo::evict(CACHE_MAX_AGE);
        pdf
    }
}

fn pdf_options() -> PdfOptions {
    PdfOptions {
        // The PDF's /ID is then a hash of the title and author (invoice number and seller),
        // stable across renders; no timestamp, so no creation date is written.
        ident: Smart::Auto,
        timestamp: None,
        ..PdfOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderer_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PdfRenderer>();
    }

    #[test]
    fn sample_compiles_without_warnings() {
        let renderer = PdfRenderer::new();
        let data = serde_json::to_vec(&sample_document(3)).unwrap();
        let world = InvoiceWorld::new(&renderer.assets, data);
        let Warned { output, warnings } = typst::compile::<PagedDocument>(&world);
        assert!(output.is_ok(), "the sample does not compile");
        assert!(warnings.is_empty(), "{}", world.describe(&warnings));
    }

    #[test]
    fn bad_data_is_a_compile_error_with_diagnostics() {
        let mut doc = sample_document(1);
        doc.labels.lang = "not a language".to_owned();
        let err = PdfRenderer::new().render(&doc).unwrap_err();
        let PdfError::Compile(message) = &err else { panic!("expected a compile error: {err}") };
        assert!(message.contains("invoice.typ:"), "no template position in: {message}");
    }
}
