//! The typst `World` the invoice template compiles in: the template, one JSON data file and the
//! embedded fonts, and nothing else — no file system, no system fonts, no clock, no packages.
//!
//! `Assets` is built once per renderer; `InvoiceWorld` is a cheap per-render view that adds the
//! invoice's data file.

use std::path::PathBuf;

use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};

/// The template, kept in the repository and compiled into the binary.
const TEMPLATE: &str = include_str!("../../templates/invoice.typ");
const TEMPLATE_PATH: &str = "/invoice.typ";
/// Where the template reads the invoice from (`json("invoice.json")`).
const DATA_PATH: &str = "/invoice.json";

/// Inter (SIL OFL 1.1, see `fonts/OFL.txt`); the only fonts the template can use.
const FONTS: [&[u8]; 4] = [
    include_bytes!("../../fonts/Inter-Regular.otf"),
    include_bytes!("../../fonts/Inter-Italic.otf"),
    include_bytes!("../../fonts/Inter-SemiBold.otf"),
    include_bytes!("../../fonts/Inter-Bold.otf"),
];

/// What every render shares: the standard library, the parsed template and the loaded fonts.
pub(super) struct Assets {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    template: Source,
    data_id: FileId,
}

impl Assets {
    pub(super) fn load() -> Self {
        let fonts: Vec<Font> =
            FONTS.iter().flat_map(|data| Font::iter(Bytes::new(*data))).collect();
        Self {
            library: LazyHash::new(Library::builder().build()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            template: Source::new(file_id(TEMPLATE_PATH), TEMPLATE.to_owned()),
            data_id: file_id(DATA_PATH),
        }
    }

    /// How many font faces loaded; a face that fails to parse is skipped silently otherwise.
    pub(super) fn font_count(&self) -> usize {
        self.fonts.len()
    }
}

/// One compilation: the shared assets plus this invoice's JSON.
pub(super) struct InvoiceWorld<'a> {
    assets: &'a Assets,
    data: Bytes,
}

impl<'a> InvoiceWorld<'a> {
    pub(super) fn new(assets: &'a Assets, data: Vec<u8>) -> Self {
        Self { assets, data: Bytes::new(data) }
    }

    /// Diagnostics as one line each, `invoice.typ:12:5: message (hint: ...)`, for error messages
    /// that point at the template line to fix.
    pub(super) fn describe(&self, diagnostics: &[SourceDiagnostic]) -> String {
        diagnostics
            .iter()
            .map(|diagnostic| {
                let mut line = match self.position(diagnostic) {
                    Some(position) => format!("{position}: {}", diagnostic.message),
                    None => diagnostic.message.to_string(),
                };
                for hint in &diagnostic.hints {
                    line.push_str(&format!(" (hint: {})", hint.v));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn position(&self, diagnostic: &SourceDiagnostic) -> Option<String> {
        let id = diagnostic.span.id()?;
        let range = self.range(diagnostic.span)?;
        let name = id.get().vpath().get_without_slash().to_owned();
        if id != self.assets.template.id() {
            return Some(name);
        }
        let (line, column) = self.assets.template.lines().byte_to_line_column(range.start)?;
        Some(format!("{name}:{}:{}", line + 1, column + 1))
    }
}

impl World for InvoiceWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.assets.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.assets.book
    }

    fn main(&self) -> FileId {
        self.assets.template.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.assets.template.id() {
            Ok(self.assets.template.clone())
        } else {
            Err(not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.assets.data_id {
            Ok(self.data.clone())
        } else if id == self.assets.template.id() {
            Ok(Bytes::from_string(self.assets.template.clone()))
        } else {
            Err(not_found(id))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.assets.fonts.get(index).cloned()
    }

    /// No clock: a template that asks for today's date fails, so output never depends on when
    /// (or how often) an invoice is rendered.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

fn file_id(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).expect("constant virtual paths are valid");
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(PathBuf::from(id.get().vpath().get_with_slash()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Currency signs, German, Spanish and French letters, quotes and the punctuation the
    /// template and typical invoice texts use. A missing glyph would print as an empty box.
    const NEEDED: &str = "€£$¥ üÜäÄöÖß ñÑáéíóúç¿¡ àèêëîïôûœ «»„“”‘’ –—…·•−×º";

    #[test]
    fn every_face_has_the_glyphs_invoices_need() {
        let assets = Assets::load();
        assert_eq!(assets.font_count(), FONTS.len());
        for font in &assets.fonts {
            for c in NEEDED.chars().filter(|c| !c.is_whitespace()) {
                assert!(
                    font.info().coverage.contains(c as u32),
                    "{} has no glyph for {c:?}",
                    font.info().family
                );
            }
        }
    }
}
