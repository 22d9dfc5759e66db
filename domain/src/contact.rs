//! Syntax rules for contact data: email addresses, IANA time zones, locales and countries.
//!
//! These check form only; whether a mailbox exists is learnt when the email provider accepts or
//! rejects a message.

/// A pragmatic email check: one `@`, a non-empty local part of at most 64 bytes, a domain of
/// dot-separated labels (letters, digits, hyphens, no leading or trailing hyphen) with at least
/// one dot, at most 254 bytes in all, no whitespace or control characters.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Parses an IANA time zone name such as `Europe/Berlin`.
pub fn parse_time_zone(name: &str) -> Option<chrono_tz::Tz> {
    name.parse().ok()
}

/// A BCP 47 tag of the common shapes: language (`en`), language-region (`en-US`, `es-419`),
/// language-script(-region) (`zh-Hant-TW`).
pub fn is_valid_locale(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let Some(language) = parts.next() else {
        return false;
    };
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    let is_script = |s: &str| {
        s.len() == 4
            && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && s.chars().skip(1).all(|c| c.is_ascii_lowercase())
    };
    let is_region = |s: &str| {
        (s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase()))
            || (s.len() == 3 && s.chars().all(|c| c.is_ascii_digit()))
    };
    match rest.as_slice() {
        [] => true,
        [a] => is_script(a) || is_region(a),
        [a, b] => is_script(a) && is_region(b),
        _ => false,
    }
}

/// An ISO 3166-1 alpha-2 shape: two upper-case ASCII letters.
pub fn is_valid_country(code: &str) -> bool {
    code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for good in ["billing@acme.com", "a.b+tag@sub.example.co.uk", "ü@münchen.de"] {
            assert!(is_valid_email(good), "{good} refused");
        }
        for bad in [
            "",
            "plain",
            "@acme.com",
            "a@",
            "a@acme",
            "a@@acme.com",
            "a b@acme.com",
            "a@-acme.com",
            "a@acme..com",
            ".a@acme.com",
            "a..b@acme.com",
            "a@acme.com\n",
        ] {
            assert!(!is_valid_email(bad), "{bad:?} accepted");
        }
        assert!(!is_valid_email(&format!("{}@acme.com", "a".repeat(65))));
    }

    #[test]
    fn time_zones() {
        assert!(parse_time_zone("Europe/Berlin").is_some());
        assert!(parse_time_zone("America/New_York").is_some());
        assert!(parse_time_zone("UTC").is_some());
        assert!(parse_time_zone("Mars/Olympus").is_none());
        assert!(parse_time_zone("").is_none());
    }

    #[test]
    fn locales() {
        for good in ["en", "en-US", "de-DE", "es-419", "zh-Hant", "zh-Hant-TW", "fil"] {
            assert!(is_valid_locale(good), "{good} refused");
        }
        for bad in ["", "EN", "en_US", "en-us", "english", "en-US-x", "e"] {
            assert!(!is_valid_locale(bad), "{bad} accepted");
        }
    }

    #[test]
    fn countries() {
        assert!(is_valid_country("DE"));
        assert!(!is_valid_country("de"));
        assert!(!is_valid_country("DEU"));
    }
}
