//! The closed sets of names the platform uses (payment methods, device classes, who acted,
//! payment providers, what the workflow does next), as enums. On the wire each is the same
//! snake_case string it always was, so stored rows and recorded workflow histories still read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{ApiKeyId, UserId};

/// A name that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// An enum of snake_case names: `as_str`, `parse`, `ALL`, `Display`, `FromStr`, serde and
/// (with the `openapi` feature) an OpenAPI schema listing the values.
macro_rules! named_enum {
    (
        $(#[$doc:meta])* $name:ident, $what:literal {
            $( $(#[$vdoc:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        // Each text is the snake_case of its variant (tests check it): the OpenAPI schema reads
        // `rename_all`, not renames inside a macro.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::kinds::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::kinds::UnknownName {
                    what: $what,
                    value: s.to_owned(),
                })
            }
        }
    };
}

pub(crate) use named_enum;

named_enum!(
    /// How money reached the seller (the dashboard's payment channels).
    PaymentMethod, "payment method" {
        Card => "card",
        BankTransfer => "bank_transfer",
        Wallet => "wallet",
        Cash => "cash",
        Check => "check",
        Manual => "manual",
        Other => "other",
    }
);

named_enum!(
    /// The class of device a client opened the hosted page on (crawlers are not counted).
    Device, "device" {
        Desktop => "desktop",
        Mobile => "mobile",
        Tablet => "tablet",
    }
);

named_enum!(
    /// Who takes payments: Stripe Checkout, or the built-in (clearly marked) test checkout.
    PaymentProvider, "payment provider" {
        Stripe => "stripe",
        Local => "local",
    }
);

named_enum!(
    /// What an invoice's workflow does next on its own.
    NextActionKind, "next action" {
        Reminder => "reminder",
        MarkOverdue => "mark_overdue",
    }
);

named_enum!(
    /// Which email an invoice sends.
    EmailKind, "email kind" {
        Invoice => "invoice",
        Reminder => "reminder",
        Receipt => "receipt",
    }
);

/// Who did something to an invoice, as the timeline records it: `user:<id>`, `api_key:<id>`,
/// `system` (the workflow itself), `client` (the payer on the hosted page), `stripe`, or
/// `test_checkout` (the built-in test checkout's events).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Actor {
    User(UserId),
    ApiKey(ApiKeyId),
    System,
    Client,
    Stripe,
    TestCheckout,
    /// Text that is none of the above, kept as written: actors were free text in workflow
    /// messages before they were typed, and recorded histories must still read.
    Other(String),
}

impl Actor {
    /// Who payment events are recorded as, for a provider.
    pub fn of_provider(provider: PaymentProvider) -> Self {
        match provider {
            PaymentProvider::Stripe => Actor::Stripe,
            PaymentProvider::Local => Actor::TestCheckout,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::System => f.write_str("system"),
            Actor::Client => f.write_str("client"),
            Actor::Stripe => f.write_str("stripe"),
            Actor::TestCheckout => f.write_str("test_checkout"),
            Actor::Other(text) => f.write_str(text),
        }
    }
}

impl FromStr for Actor {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownName { what: "actor", value: s.to_owned() };
        Ok(match s {
            "system" => Actor::System,
            "client" => Actor::Client,
            "stripe" => Actor::Stripe,
            "test_checkout" => Actor::TestCheckout,
            _ => match s.split_once(':') {
                Some(("user", id)) => Actor::User(id.parse().map_err(|_| unknown())?),
                Some(("api_key", id)) => Actor::ApiKey(id.parse().map_err(|_| unknown())?),
                _ => return Err(unknown()),
            },
        })
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> Self {
        actor.to_string()
    }
}

impl From<String> for Actor {
    fn from(s: String) -> Self {
        s.parse().unwrap_or(Actor::Other(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every named enum's text is what serde writes (the wire shape every stored row has).
    fn texts_are_the_serde_names<T: serde::Serialize + fmt::Display>(all: &[T]) {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(v.to_string()));
        }
    }

    #[test]
    fn every_enum_writes_its_text() {
        texts_are_the_serde_names(PaymentMethod::ALL);
        texts_are_the_serde_names(Device::ALL);
        texts_are_the_serde_names(PaymentProvider::ALL);
        texts_are_the_serde_names(NextActionKind::ALL);
        texts_are_the_serde_names(EmailKind::ALL);
        texts_are_the_serde_names(crate::InvoiceStatus::ALL);
        texts_are_the_serde_names(crate::TimelineKind::ALL);
        texts_are_the_serde_names(crate::Step::ALL);
    }

    #[test]
    fn names_round_trip_as_before() {
        for method in PaymentMethod::ALL {
            let json = serde_json::to_string(method).unwrap();
            assert_eq!(json, format!("\"{}\"", method.as_str()));
            assert_eq!(serde_json::from_str::<PaymentMethod>(&json).unwrap(), *method);
        }
        assert_eq!(NextActionKind::MarkOverdue.as_str(), "mark_overdue");
        assert_eq!("bank_transfer".parse::<PaymentMethod>(), Ok(PaymentMethod::BankTransfer));
        assert!("bitcoin".parse::<PaymentMethod>().is_err());
    }

    #[test]
    fn actors_keep_their_text_form() {
        let user = "user:0190f3f5-1111-7222-8333-444455556666";
        for text in [user, "system", "client", "stripe", "test_checkout"] {
            let actor: Actor = text.parse().unwrap();
            assert_eq!(actor.to_string(), text);
            assert_eq!(serde_json::to_value(actor).unwrap(), serde_json::json!(text));
        }
        for bad in ["", "user:", "user:nope", "robot", "api_key:1"] {
            assert!(bad.parse::<Actor>().is_err(), "{bad}");
            // Read from a message, it is kept as written.
            let read: Actor = serde_json::from_value(serde_json::json!(bad)).unwrap();
            assert_eq!((read.to_string(), matches!(read, Actor::Other(_))), (bad.to_owned(), true));
        }
    }
}
