//! I/O-free domain types shared by the API and the workflows: currencies, money arithmetic,
//! invoice totals and statuses, and the validation rules both sides must agree on.

pub mod contact;
pub mod currency;
pub mod invoice;
pub mod money;

pub use contact::{is_valid_country, is_valid_email, is_valid_locale, parse_time_zone};
pub use currency::Currency;
pub use invoice::{InvoiceStatus, LineAmounts, LineInput, Totals, compute_totals};
pub use money::{Decimal4, DecimalText, MoneyError, format_amount, parse_amount};
