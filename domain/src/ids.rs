//! Typed ids. Every id is a UUID on the wire (plain JSON strings, as before), but in code an
//! invoice id cannot be passed where an organisation id is wanted, and nothing parses ids back
//! from strings by hand.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

uuid_id!(
    /// An organisation: everything else belongs to one.
    OrgId
);
uuid_id!(
    /// An invoice (and, with its organisation, its workflow).
    InvoiceId
);
uuid_id!(
    /// A customer of an organisation.
    CustomerId
);
uuid_id!(
    /// A person who signs in.
    UserId
);
uuid_id!(
    /// A server-to-server API key.
    ApiKeyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_uuid_strings_on_the_wire() {
        let id: InvoiceId = "0190f3f5-1111-7222-8333-444455556666".parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0190f3f5-1111-7222-8333-444455556666\"");
        assert_eq!(serde_json::from_str::<InvoiceId>(&json).unwrap(), id);
        assert_eq!(id.to_string(), "0190f3f5-1111-7222-8333-444455556666");
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert!("not-a-uuid".parse::<OrgId>().is_err());
        assert!(serde_json::from_str::<OrgId>("\"x\"").is_err());
    }
}
