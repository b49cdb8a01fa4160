//! Query parameters, read strictly: a parameter the route does not take, one given twice, or one
//! holding a NUL character is a 400 naming it, never silently ignored (a misspelt `chanel=`
//! would otherwise answer an unfiltered list). The names a route takes are the ones its
//! parameter structs document in the OpenAPI document, so the two cannot disagree.
//!
//! Values arrive as text and are parsed by the route, so that every bad value is reported with
//! the parameter's name and the rule it breaks.

use std::collections::HashSet;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Utc};
use futures::future::{Ready, ready};
use newsroom_domain::{
    articles::{ArticleFilter, ArticleOrder},
    entities::ArticleKind,
    pagination::{Cursor, MAX_PAGE_SIZE, PageRequest},
};
use serde::{Deserialize, de::DeserializeOwned};
use utoipa::{IntoParams, openapi::path::ParameterIn};

use super::errors::ApiError;

/// A set of query parameters a route takes.
pub trait QueryParams: Sized {
    /// Every parameter name the set takes.
    fn names() -> Vec<String>;
    /// The set read from a query string whose names were already checked.
    fn read(query: &str) -> Result<Self, ApiError>;
}

/// Implements [`QueryParams`] for structs deriving `Deserialize` and `IntoParams`.
macro_rules! query_params {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::rest::params::QueryParams for $ty {
            fn names() -> Vec<String> {
                $crate::rest::params::names_of::<$ty>()
            }

            fn read(query: &str) -> Result<Self, $crate::rest::ApiError> {
                $crate::rest::params::read_struct(query)
            }
        }
    )+};
}
pub(crate) use query_params;

/// The names of the parameters `T` documents.
pub fn names_of<T: IntoParams>() -> Vec<String> {
    T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// `T` read from a query string.
pub fn read_struct<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::new(super::ErrorCode::BadUserInput, e.to_string()))
}

/// No parameters at all.
impl QueryParams for () {
    fn names() -> Vec<String> {
        Vec::new()
    }

    fn read(_: &str) -> Result<Self, ApiError> {
        Ok(())
    }
}

impl<A: QueryParams, B: QueryParams> QueryParams for (A, B) {
    fn names() -> Vec<String> {
        let mut names = A::names();
        names.extend(B::names());
        names
    }

    fn read(query: &str) -> Result<Self, ApiError> {
        Ok((A::read(query)?, B::read(query)?))
    }
}

impl<A: QueryParams, B: QueryParams, C: QueryParams> QueryParams for (A, B, C) {
    fn names() -> Vec<String> {
        let mut names = <(A, B)>::names();
        names.extend(C::names());
        names
    }

    fn read(query: &str) -> Result<Self, ApiError> {
        Ok((A::read(query)?, B::read(query)?, C::read(query)?))
    }
}

/// The extractor: the route's parameters, checked as the module says.
pub struct Params<T>(pub T);

impl<T: QueryParams> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(Params))
    }
}

fn parse<T: QueryParams>(query: &str) -> Result<T, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| ApiError::bad_parameter("?", "the query string is not URL-encoded"))?;
    let known = T::names();
    let mut seen = HashSet::new();
    for (name, value) in pairs.iter() {
        if !known.contains(name) {
            let takes = if known.is_empty() {
                "this route takes no parameters".to_owned()
            } else {
                format!("this route takes {}", known.join(", "))
            };
            return Err(ApiError::bad_parameter(
                name,
                format!("is not a parameter of this route; {takes}"),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(ApiError::bad_parameter(name, "is given more than once"));
        }
        if value.contains('\0') {
            return Err(ApiError::bad_parameter(
                name,
                "must not contain NUL characters",
            ));
        }
    }
    T::read(query)
}

/// A path segment (a slug) as the database can compare it: no NUL character, which PostgreSQL
/// text cannot hold.
pub fn slug(name: &str, raw: &str) -> Result<String, ApiError> {
    if raw.contains('\0') {
        return Err(ApiError::bad_parameter(
            name,
            "must not contain NUL characters",
        ));
    }
    Ok(raw.to_owned())
}

/// A whole number from `min` to `max`, or the default when absent.
pub fn number(
    name: &str,
    raw: Option<&str>,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, ApiError> {
    match raw.map(str::parse::<u64>) {
        None => Ok(default),
        Some(Ok(n)) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_parameter(
            name,
            format!("must be a whole number from {min} to {max}"),
        )),
    }
}

/// `true` or `false`.
fn flag(name: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_parameter(name, "must be true or false")),
    }
}

/// An RFC 3339 time.
fn time(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|v| {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::bad_parameter(name, "must be an RFC 3339 time (2020-07-01T08:00:00Z)")
            })
    })
    .transpose()
}

/// A page size for a keyset page: it goes to the domain's check, which caps it at the page limit.
pub fn size(name: &str, raw: Option<&str>) -> Result<Option<i32>, ApiError> {
    raw.map(|n| {
        n.parse::<i32>().map_err(|_| {
            ApiError::bad_parameter(
                name,
                format!("must be a whole number from 0 to {MAX_PAGE_SIZE}"),
            )
        })
    })
    .transpose()
}

/// Keyset paging, as GraphQL connections page: `first` / `after` forwards, `last` / `before`
/// backwards.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// How many items, forwards (0 to 100; 20 when neither `first` nor `last` is given).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100)]
    first: Option<String>,
    /// Start after this cursor (a `nextCursor` of an earlier page).
    after: Option<String>,
    /// How many items, backwards from `before` (0 to 100).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100)]
    last: Option<String>,
    /// End before this cursor (a `previousCursor` of an earlier page).
    before: Option<String>,
}

impl Paging {
    /// The validated page request.
    pub fn request<C: Cursor>(&self) -> Result<PageRequest<C>, ApiError> {
        Ok(PageRequest::from_relay(
            size("first", self.first.as_deref())?,
            self.after.as_deref(),
            size("last", self.last.as_deref())?,
            self.before.as_deref(),
        )?)
    }
}

/// Which articles: the filter GraphQL's `articles` takes, statuses excepted (REST serves what
/// readers see).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct FilterParams {
    /// A channel slug; its sub-channels' articles are included.
    channel: Option<String>,
    /// A tag slug.
    tag: Option<String>,
    /// A source slug.
    source: Option<String>,
    /// `original`, `reprint` or `sponsored`.
    #[param(value_type = Option<super::model::ArticleKind>, inline)]
    kind: Option<String>,
    /// Published at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    published_after: Option<String>,
    /// Published before this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    published_before: Option<String>,
    /// Only featured (推荐图文) articles, or only not.
    #[param(value_type = Option<bool>)]
    featured: Option<String>,
    /// Only recommended (推荐资讯) articles, or only not.
    #[param(value_type = Option<bool>)]
    recommended: Option<String>,
}

impl FilterParams {
    /// The filter the parameters name; a bad value is a 400 naming its parameter. Unknown slugs
    /// are the domain's to find (also a 400 naming the parameter).
    pub fn filter(&self) -> Result<ArticleFilter, ApiError> {
        let kind = match self.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("original") => Some(ArticleKind::Original),
            Some("reprint") => Some(ArticleKind::Reprint),
            Some("sponsored") => Some(ArticleKind::Sponsored),
            Some(_) => {
                return Err(ApiError::bad_parameter(
                    "kind",
                    "must be original, reprint or sponsored",
                ));
            }
        };
        Ok(ArticleFilter {
            channel: self.channel.clone(),
            tag: self.tag.clone(),
            source: self.source.clone(),
            kind,
            published_after: time("publishedAfter", self.published_after.as_deref())?,
            published_before: time("publishedBefore", self.published_before.as_deref())?,
            featured: flag("featured", self.featured.as_deref())?,
            recommended: flag("recommended", self.recommended.as_deref())?,
            statuses: None,
        })
    }
}

/// The order of an article list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct OrderParams {
    /// `newest` (the default) or `oldest` first, by publish time.
    #[param(value_type = Option<super::model::ArticleOrder>, inline)]
    order_by: Option<String>,
}

impl OrderParams {
    /// The order named.
    pub fn order(&self) -> Result<ArticleOrder, ApiError> {
        match self.order_by.as_deref() {
            None => Ok(ArticleOrder::Newest),
            Some(raw) => super::model::ArticleOrder::parse(raw)
                .map(Into::into)
                .ok_or_else(|| ApiError::bad_parameter("orderBy", "must be newest or oldest")),
        }
    }
}

query_params!(Paging, FilterParams, OrderParams);

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        match result {
            Err(e) => format!("{e}"),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    #[test]
    fn unknown_repeated_and_nul_parameters_are_refused_by_name() {
        let ok: (Paging, FilterParams) = parse("first=5&channel=parks&kind=reprint").unwrap();
        assert_eq!(ok.0.first.as_deref(), Some("5"));
        assert_eq!(ok.1.channel.as_deref(), Some("parks"));
        assert!(field_of(parse::<Paging>("chanel=parks")).contains("`chanel` is not a parameter"));
        assert!(field_of(parse::<Paging>("first=1&first=2")).contains("`first` is given more"));
        assert!(
            field_of(parse::<FilterParams>("tag=a%00b")).contains("`tag` must not contain NUL")
        );
        assert!(field_of(parse::<()>("x=1")).contains("takes no parameters"));
        // Parameter names are the documented, camelCase ones.
        assert!(FilterParams::names().contains(&"publishedAfter".to_owned()));
        assert!(OrderParams::names().contains(&"orderBy".to_owned()));
    }

    mod fuzz {
        use actix_web::ResponseError;
        use chrono::TimeZone;
        use newsroom_domain::pagination::TimeCursor;
        use proptest::prelude::*;

        use super::super::*;

        type All = (Paging, FilterParams, OrderParams);

        const NAMES: &[&str] = &[
            "first",
            "after",
            "last",
            "before",
            "channel",
            "tag",
            "source",
            "kind",
            "publishedAfter",
            "publishedBefore",
            "featured",
            "recommended",
            "orderBy",
            "chanel",
            "",
            "=",
            "%",
            "%00",
            "%FF",
            "first[]",
        ];

        fn query_string() -> impl Strategy<Value = String> {
            let value = prop_oneof![
                "[ -~]{0,12}",
                any::<String>(),
                Just("%00".to_owned()),
                Just("%FF%FE".to_owned()),
                Just("%".to_owned()),
                Just("2020-07-01T08:00:00Z".to_owned()),
                Just("-2147483649".to_owned()),
            ];
            let pair = (prop::sample::select(NAMES), value)
                .prop_map(|(name, value)| format!("{name}={value}"));
            prop_oneof![
                any::<String>(),
                prop::collection::vec(pair, 0..8).prop_map(|pairs| pairs.join("&")),
            ]
        }

        fn encoded(raw: &str) -> String {
            raw.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        }

        fn time() -> impl Strategy<Value = DateTime<Utc>> {
            (-62_135_596_800i64..=253_402_300_799, 0u32..1_000_000).prop_map(|(secs, micros)| {
                Utc.timestamp_opt(secs, micros * 1000)
                    .single()
                    .unwrap_or_default()
            })
        }

        fn filter() -> impl Strategy<Value = ArticleFilter> {
            let slug = proptest::option::of("[a-z0-9]{1,10}(-[a-z0-9]{1,10})?");
            let kind = proptest::option::of(prop::sample::select(vec![
                ArticleKind::Original,
                ArticleKind::Reprint,
                ArticleKind::Sponsored,
            ]));
            let flag = proptest::option::of(any::<bool>());
            (
                (slug.clone(), slug.clone(), slug, kind),
                (
                    proptest::option::of(time()),
                    proptest::option::of(time()),
                    flag.clone(),
                    flag,
                ),
            )
                .prop_map(
                    |((channel, tag, source, kind), (after, before, featured, recommended))| {
                        ArticleFilter {
                            channel,
                            tag,
                            source,
                            kind,
                            published_after: after,
                            published_before: before,
                            featured,
                            recommended,
                            statuses: None,
                        }
                    },
                )
        }

        /// `filter` as REST query parameters.
        fn to_query(filter: &ArticleFilter) -> String {
            let kind = filter.kind.map(|k| match k {
                ArticleKind::Original => "original",
                ArticleKind::Reprint => "reprint",
                ArticleKind::Sponsored => "sponsored",
            });
            let params = [
                ("channel", filter.channel.clone()),
                ("tag", filter.tag.clone()),
                ("source", filter.source.clone()),
                ("kind", kind.map(str::to_owned)),
                (
                    "publishedAfter",
                    filter.published_after.map(|t| t.to_rfc3339()),
                ),
                (
                    "publishedBefore",
                    filter.published_before.map(|t| t.to_rfc3339()),
                ),
                ("featured", filter.featured.map(|b| b.to_string())),
                ("recommended", filter.recommended.map(|b| b.to_string())),
            ];
            params
                .iter()
                .filter_map(|(name, value)| {
                    value.as_ref().map(|v| format!("{name}={}", encoded(v)))
                })
                .collect::<Vec<_>>()
                .join("&")
        }

        proptest! {
            /// Whatever the query string, reading it never panics, and whatever is wrong is a 400.
            #[test]
            fn fuzz_query_strings_are_read_or_refused_with_400(query in query_string()) {
                let read = parse::<All>(&query).and_then(|(paging, filter, order)| {
                    paging.request::<TimeCursor>()?;
                    filter.filter()?;
                    order.order()
                });
                if let Err(e) = read {
                    prop_assert_eq!(e.status_code().as_u16(), 400, "{}", e);
                }
            }

            /// A filter sent as parameters is the filter read back.
            #[test]
            fn fuzz_filters_round_trip_through_parameters(filter in filter()) {
                let query = to_query(&filter);
                let (_, params, _) = parse::<All>(&query).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(params.filter().map_err(|e| TestCaseError::fail(e.to_string()))?, filter);
            }
        }
    }
}
