//! Money and decimals without floats.
//!
//! Amounts are `i64` minor units of a [`Currency`] (cents for USD, yen for JPY, fils for KWD).
//! Quantities and percentage rates are [`Decimal4`]: fixed point with four decimal places.
//! The one rounding rule: half away from zero, to the minor unit, applied per line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Currency;

/// Largest amount accepted anywhere, in minor units (10^13 - 1: about 100 billion dollars),
/// so that sums of many lines stay far from overflow.
pub const MAX_AMOUNT_MINOR: i64 = 9_999_999_999_999;

/// Why a decimal or amount was refused. Each maps to a stable field error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal number")]
    NotANumber,
    #[error("more decimal places than allowed ({allowed})")]
    TooPrecise { allowed: u8 },
    #[error("out of range")]
    OutOfRange,
    #[error("must not be negative")]
    Negative,
}

impl MoneyError {
    /// Stable snake_case code for API field errors.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::NotANumber => "not_a_number",
            MoneyError::TooPrecise { .. } => "too_many_decimals",
            MoneyError::OutOfRange => "out_of_range",
            MoneyError::Negative => "negative",
        }
    }
}

/// Parses a plain decimal (`"12"`, `"-0.5"`, `"1000.00"`; no exponent, no separators) into
/// an integer scaled by `10^places`, refusing more than `places` decimal digits.
fn parse_scaled(input: &str, places: u8) -> Result<i128, MoneyError> {
    let s = input.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !valid(int_part) || !valid(frac_part) {
        return Err(MoneyError::NotANumber);
    }
    // Trailing zeros beyond the allowed places are harmless ("100.00" for JPY is 100).
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > usize::from(places) {
        return Err(MoneyError::TooPrecise { allowed: places });
    }
    if int_part.trim_start_matches('0').len() > 18 {
        return Err(MoneyError::OutOfRange);
    }
    let int_value: i128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| MoneyError::NotANumber)?
    };
    let mut frac_value: i128 = 0;
    for i in 0..usize::from(places) {
        let digit = frac_trimmed.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
        frac_value = frac_value * 10 + digit;
    }
    let value = int_value * 10_i128.pow(u32::from(places)) + frac_value;
    Ok(if negative { -value } else { value })
}

/// Parses an amount in major units (`"1000.00"`) into minor units of `currency`, refusing more
/// decimals than the currency has, negatives, and amounts above [`MAX_AMOUNT_MINOR`].
pub fn parse_amount(input: &str, currency: Currency) -> Result<i64, MoneyError> {
    let value = parse_scaled(input, currency.exponent())?;
    if value < 0 {
        return Err(MoneyError::Negative);
    }
    i64::try_from(value).ok().filter(|v| *v <= MAX_AMOUNT_MINOR).ok_or(MoneyError::OutOfRange)
}

/// Formats minor units as a plain decimal in major units: `123456` USD is `"1234.56"`.
pub fn to_decimal_string(minor: i64, currency: Currency) -> String {
    let exp = u32::from(currency.exponent());
    if exp == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale as u64, abs % scale as u64, width = exp as usize)
}

/// Formats minor units for people: grouped thousands and the currency's symbol where it is
/// unambiguous (`$1,234.56`, `€1,234.56`, `¥1,235`), otherwise the code (`CHF 1,234.56`).
pub fn format_amount(minor: i64, currency: Currency) -> String {
    let plain = to_decimal_string(minor.abs(), currency);
    let (int_part, frac_part) =
        plain.split_once('.').map_or((plain.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(f) = frac_part {
        grouped.push('.');
        grouped.push_str(f);
    }
    let sign = if minor < 0 { "-" } else { "" };
    let symbol = match currency.code() {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        "INR" => Some("₹"),
        _ => None,
    };
    match symbol {
        Some(s) => format!("{sign}{s}{grouped}"),
        None => format!("{sign}{} {grouped}", currency.code()),
    }
}

/// A non-negative decimal with four places, for quantities (`1.5` hours) and percentage rates
/// (`19` for 19 %). Serialises as a string so no client parses it into a float.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal4(i64);

impl Decimal4 {
    pub const PLACES: u8 = 4;
    const SCALE: i64 = 10_000;
    pub const ZERO: Decimal4 = Decimal4(0);

    /// The raw value scaled by 10^4.
    pub fn scaled(self) -> i64 {
        self.0
    }

    pub fn from_scaled(value: i64) -> Self {
        Decimal4(value)
    }

    pub fn from_int(value: i64) -> Self {
        Decimal4(value * Self::SCALE)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl FromStr for Decimal4 {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = parse_scaled(s, Self::PLACES)?;
        if value < 0 {
            return Err(MoneyError::Negative);
        }
        // At most 10^11 before the point: plenty for quantities, far from i64 limits.
        i64::try_from(value)
            .ok()
            .filter(|v| *v < 100_000_000_000 * Self::SCALE)
            .map(Decimal4)
            .ok_or(MoneyError::OutOfRange)
    }
}

impl fmt::Display for Decimal4 {
    /// Shortest form: `1.5`, `10`, `0.3333`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / Self::SCALE;
        let frac = self.0 % Self::SCALE;
        if frac == 0 {
            write!(f, "{int}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{int}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Decimal4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal4({self})")
    }
}

impl Serialize for Decimal4 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal4 {
    /// Accepts a JSON string or number.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = DecimalText::deserialize(d)?;
        text.0.parse().map_err(serde::de::Error::custom)
    }
}

/// A decimal as the client wrote it, from a JSON number or string; parsed later against a
/// currency so that errors can name the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText(pub String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DecimalText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number or a string holding one")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DecimalText, E> {
                Ok(DecimalText(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DecimalText, E> {
                Ok(DecimalText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DecimalText, E> {
                Ok(DecimalText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<DecimalText, E> {
                // The shortest representation that round-trips: 1000.0 -> "1000", 0.1 -> "0.1".
                if !v.is_finite() {
                    return Err(E::custom("not a finite number"));
                }
                let text = format!("{v}");
                if text.contains('e') {
                    return Err(E::custom("number out of range"));
                }
                Ok(DecimalText(text))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Serialize for DecimalText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// `value * numerator / denominator`, rounded half away from zero.
pub(crate) fn mul_div_round(value: i128, numerator: i128, denominator: i128) -> i128 {
    let product = value * numerator;
    let quotient = product / denominator;
    let remainder = product % denominator;
    if remainder.abs() * 2 >= denominator.abs() {
        quotient + product.signum() * denominator.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        code.parse().unwrap()
    }

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(parse_amount("1000.00", cur("USD")), Ok(100_000));
        assert_eq!(parse_amount("1000", cur("USD")), Ok(100_000));
        assert_eq!(parse_amount("0.5", cur("USD")), Ok(50));
        assert_eq!(parse_amount("1500", cur("JPY")), Ok(1500));
        assert_eq!(parse_amount("1500.00", cur("JPY")), Ok(1500));
        assert_eq!(parse_amount("1500.5", cur("JPY")), Err(MoneyError::TooPrecise { allowed: 0 }));
        assert_eq!(parse_amount("1.234", cur("KWD")), Ok(1234));
        assert_eq!(parse_amount("1.005", cur("USD")), Err(MoneyError::TooPrecise { allowed: 2 }));
    }

    #[test]
    fn amounts_refuse_garbage_negatives_and_huge_values() {
        for bad in ["", "abc", "1,000.00", "1e3", "--1", ".", "1.2.3", " "] {
            assert_eq!(parse_amount(bad, cur("USD")), Err(MoneyError::NotANumber), "{bad:?}");
        }
        assert_eq!(parse_amount("-1", cur("USD")), Err(MoneyError::Negative));
        assert_eq!(parse_amount("100000000000", cur("USD")), Err(MoneyError::OutOfRange));
        assert_eq!(parse_amount("99999999999.99", cur("USD")), Ok(MAX_AMOUNT_MINOR));
    }

    #[test]
    fn formatting() {
        assert_eq!(to_decimal_string(100_000, cur("USD")), "1000.00");
        assert_eq!(to_decimal_string(5, cur("USD")), "0.05");
        assert_eq!(to_decimal_string(1500, cur("JPY")), "1500");
        assert_eq!(format_amount(123_456_789, cur("EUR")), "€1,234,567.89");
        assert_eq!(format_amount(1500, cur("JPY")), "¥1,500");
        assert_eq!(format_amount(100, cur("CHF")), "CHF 1.00");
        assert_eq!(format_amount(-2_50, cur("USD")), "-$2.50");
    }

    #[test]
    fn decimals_parse_from_strings_and_json_numbers() {
        assert_eq!("1.5".parse::<Decimal4>().unwrap().scaled(), 15_000);
        assert_eq!("10".parse::<Decimal4>().unwrap().to_string(), "10");
        assert_eq!("0.3333".parse::<Decimal4>().unwrap().to_string(), "0.3333");
        assert!("0.33333".parse::<Decimal4>().is_err());
        let d: Decimal4 = serde_json::from_str("2.25").unwrap();
        assert_eq!(d.to_string(), "2.25");
        let d: Decimal4 = serde_json::from_str("\"7\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"7\"");
        let t: DecimalText = serde_json::from_str("1000.00").unwrap();
        assert_eq!(t.0, "1000");
        let t: DecimalText = serde_json::from_str("0.1").unwrap();
        assert_eq!(t.0, "0.1");
        assert!(serde_json::from_str::<DecimalText>("true").is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(mul_div_round(5, 1, 10), 1);
        assert_eq!(mul_div_round(4, 1, 10), 0);
        assert_eq!(mul_div_round(15, 1, 10), 2);
        assert_eq!(mul_div_round(-15, 1, 10), -2);
        assert_eq!(mul_div_round(10, 1, 3), 3);
    }
}
