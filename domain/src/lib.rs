//! I/O-free domain types shared by the API and the workflows: currencies, contact data and the
//! validation rules both sides must agree on.

pub mod contact;
pub mod currency;

pub use contact::{is_valid_country, is_valid_email, is_valid_locale, parse_time_zone};
pub use currency::Currency;
