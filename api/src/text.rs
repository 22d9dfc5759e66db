//! The one set of text rules at the boundary: every string of every JSON body (object keys
//! included), before it can reach a workflow or a table.
//!
//! - No control characters (NUL, escape, the C1 range, ...): Postgres cannot store NUL, and the
//!   others only ever arrive to break a log line, a PDF or a terminal. Tab, CR and LF are the
//!   exceptions, and only where a field is multi-line.
//! - CR and LF only in multi-line fields ([`MULTILINE_FIELDS`]: notes, line descriptions,
//!   payment instructions, reasons). Every other field is single-line: names and emails reach
//!   email headers, where a line break would start a header of the sender's choosing.
//! - A length cap per kind of field ([`SINGLE_LINE_MAX`], [`MULTILINE_MAX`]); handlers cap
//!   their own fields tighter where the field has a natural size (a name: 200).
//!
//! A string that breaks a rule is a 422 `validation_failed` naming the field (its JSON path)
//! and the code: `invalid_character`, `line_break` or `too_long`.

use serde_json::Value;

use crate::error::FieldError;

/// Fields (by their JSON name) whose text may span lines.
pub const MULTILINE_FIELDS: &[&str] =
    &["notes", "description", "paymentInstructions", "reason", "message"];
/// Longest single-line text accepted anywhere, in characters.
pub const SINGLE_LINE_MAX: usize = 1_000;
/// Longest multi-line text accepted anywhere, in characters.
pub const MULTILINE_MAX: usize = 10_000;

/// Checks every string in `value`, collecting every failing field.
pub fn check(value: &Value) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    walk(value, "", false, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn walk(value: &Value, path: &str, multiline: bool, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => check_text(path, text, multiline, errors),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), multiline, errors);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                check_text(&field, key, false, errors);
                walk(item, &field, MULTILINE_FIELDS.contains(&key.as_str()), errors);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The rules for one text; `field` names it in the error.
pub fn check_text(field: &str, text: &str, multiline: bool, errors: &mut Vec<FieldError>) {
    let mut add = |code: &str, message: String| {
        errors.push(FieldError { field: field.to_owned(), code: code.to_owned(), message });
    };
    let max = if multiline { MULTILINE_MAX } else { SINGLE_LINE_MAX };
    if text.chars().count() > max {
        add("too_long", format!("Must be at most {max} characters."));
        return;
    }
    let line_break = |c: char| c == '\n' || c == '\r';
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\t' && !line_break(c)) {
        add(
            "invalid_character",
            format!("Must not contain control characters (found U+{:04X}).", u32::from(c)),
        );
    } else if !multiline && text.contains(line_break) {
        add("line_break", "Must be a single line (no CR or LF).".into());
    } else if !multiline && text.contains('\t') {
        add("invalid_character", "Must not contain tab characters.".into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(value: Value) -> Vec<(String, String)> {
        check(&value).err().unwrap_or_default().into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn every_string_is_checked_by_its_path() {
        let body = json!({
            "name": "Acme\u{0}",
            "items": [{ "description": "two\nlines are fine" }, { "description": "bell\u{7}" }],
            "notes": "multi\r\nline",
            "clientName": "Evil\r\nBcc: victim@example.com",
            "address": { "line1": "x\u{1b}[31m" },
            "reference": "r".repeat(SINGLE_LINE_MAX + 1),
            "ok": "Ünïcödé – fine ✓",
        });
        let mut found = codes(body);
        found.sort();
        let want = [
            ("address.line1", "invalid_character"),
            ("clientName", "line_break"),
            ("items[1].description", "invalid_character"),
            ("name", "invalid_character"),
            ("reference", "too_long"),
        ];
        assert_eq!(found, want.map(|(f, c)| (f.to_owned(), c.to_owned())));
    }

    #[test]
    fn keys_and_nested_values_are_text_too() {
        assert_eq!(
            codes(json!({ "a\u{0}": 1 })),
            [("a\u{0}".to_owned(), "invalid_character".to_owned())]
        );
        assert_eq!(
            codes(json!([["\u{85}"]])),
            [("[0][0]".to_owned(), "invalid_character".to_owned())]
        );
        assert!(codes(json!({ "n": 1, "b": true, "z": null })).is_empty());
    }
}
