//! Global object IDs (`node(id:)`): the type name and the row id, base64url-encoded, so that an ID
//! is opaque to clients and unique across types.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use newsroom_domain::pagination::encode_parts;

/// The node types an ID can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An article.
    Article,
    /// A channel.
    Channel,
    /// A source.
    Source,
    /// A tag.
    Tag,
    /// A page.
    Page,
    /// A user.
    User,
    /// An API token.
    ApiToken,
    /// A takedown request.
    TakedownRequest,
    /// A partner's webhook endpoint.
    WebhookEndpoint,
    /// One attempt in the webhook delivery log.
    WebhookDelivery,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Article => "Article",
            Kind::Channel => "Channel",
            Kind::Source => "Source",
            Kind::Tag => "Tag",
            Kind::Page => "Page",
            Kind::User => "User",
            Kind::ApiToken => "ApiToken",
            Kind::TakedownRequest => "TakedownRequest",
            Kind::WebhookEndpoint => "WebhookEndpoint",
            Kind::WebhookDelivery => "WebhookDelivery",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every kind; a test checks that each one round-trips.
    const ALL: [Kind; 10] = [
        Kind::Article,
        Kind::Channel,
        Kind::Source,
        Kind::Tag,
        Kind::Page,
        Kind::User,
        Kind::ApiToken,
        Kind::TakedownRequest,
        Kind::WebhookEndpoint,
        Kind::WebhookDelivery,
    ];
}

/// The global ID of row `id` of `kind`.
pub fn encode(kind: Kind, id: i64) -> ID {
    let mut row = itoa::Buffer::new();
    ID(encode_parts(&[
        kind.name().as_bytes(),
        b":",
        row.format(id).as_bytes(),
    ]))
}

/// The row id of an ID that must name a `kind`; the error names `field`.
pub fn expect(kind: Kind, id: &str, field: &str) -> async_graphql::Result<i64> {
    match decode(id) {
        Some((k, row)) if k == kind => Ok(row),
        Some(_) => Err(super::errors::bad_input(
            field,
            format!("is not the ID of a {}", kind.name().to_lowercase()),
        )),
        None => Err(super::errors::bad_input(
            field,
            "is not an ID this API issued",
        )),
    }
}

/// The kind and row id an ID names, or `None` when it is not one of ours. Only the spelling
/// [`encode`] writes is accepted (`Article:07` and `Article:+7` name row 7 too), so each object
/// has one ID and clients that cache by ID never hold two copies of it.
pub fn decode(id: &str) -> Option<(Kind, i64)> {
    if id.len() > 64 {
        return None;
    }
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (name, digits) = raw.split_once(':')?;
    let row: i64 = digits.parse().ok()?;
    Some((Kind::from_name(name)?, row)).filter(|_| row > 0 && row.to_string() == digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_garbage_is_refused() {
        let id = encode(Kind::Article, 42);
        // The spelling clients hold: `Article:42`, base64url without padding.
        assert_eq!(id.0, "QXJ0aWNsZTo0Mg");
        assert_eq!(decode(&id), Some((Kind::Article, 42)));
        for kind in Kind::ALL {
            assert_eq!(decode(&encode(kind, 7)), Some((kind, 7)), "{kind:?}");
        }
        for bad in [
            "",
            "42",
            "QXJ0aWNsZTo",
            "QXJ0aWNsZTphYmM",
            "Q2FrZTox",
            "QXJ0aWNsZTotMQ",
            "💥",
            // Found by `fuzz_only_issued_ids_are_accepted`: `Article:07` and `Article:+7`.
            "QXJ0aWNsZTowNw",
            "QXJ0aWNsZTorNw",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    mod fuzz {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        use proptest::prelude::*;

        use super::super::*;

        /// What a client might send as an ID: anything, or base64 of something shaped like ours.
        fn raw_id() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[A-Za-z0-9_-]{0,70}",
                ("[A-Za-z]{0,16}", "[-+ 0-9]{0,22}")
                    .prop_map(|(kind, row)| URL_SAFE_NO_PAD.encode(format!("{kind}:{row}"))),
                (
                    prop::sample::select(Kind::ALL.to_vec()),
                    "[-+0]{0,2}[0-9]{1,19}"
                )
                    .prop_map(
                        |(kind, row)| URL_SAFE_NO_PAD.encode(format!("{}:{row}", kind.name()))
                    ),
            ]
        }

        proptest! {
            #[test]
            fn fuzz_ids_round_trip(kind in prop::sample::select(Kind::ALL.to_vec()), row in 1..=i64::MAX) {
                prop_assert_eq!(decode(&encode(kind, row)), Some((kind, row)));
            }

            /// Decoding never panics, and an ID it accepts is the one the API issues for that
            /// object: one ID per object, so clients that cache by ID never hold two copies.
            #[test]
            fn fuzz_only_issued_ids_are_accepted(raw in raw_id()) {
                if let Some((kind, row)) = decode(&raw) {
                    prop_assert_eq!(encode(kind, row).0, raw);
                }
            }
        }
    }
}
