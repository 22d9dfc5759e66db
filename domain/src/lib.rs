//! I/O-free domain types shared by the API, the workflows and the activities: typed ids, the
//! closed sets of names (statuses, payment methods, devices, actors), the timeline's events,
//! currencies, money arithmetic and invoice totals, and the validation rules both sides must
//! agree on.

pub mod contact;
pub mod currency;
pub mod ids;
pub mod invoice;
pub mod kinds;
pub mod money;
pub mod timeline;

pub use contact::{is_valid_country, is_valid_email, is_valid_locale, parse_time_zone};
pub use currency::Currency;
pub use ids::{ApiKeyId, CustomerId, InvoiceId, OrgId, UserId};
pub use invoice::{InvoiceStatus, LineAmounts, LineInput, Totals, compute_totals};
pub use kinds::{Actor, Device, EmailKind, NextActionKind, PaymentMethod, PaymentProvider};
pub use money::{Decimal4, DecimalText, MoneyError, format_amount, parse_amount};
pub use timeline::{Step, TimelineEvent, TimelineKind};
