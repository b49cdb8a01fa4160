//! The export format: JSON Lines. The first line is the header
//! `{"format":"newsroom-export","version":1}`; every other line is one record, an object whose
//! `type` is `setting`, `channel`, `source`, `tag`, `page` or `article`, followed by its fields in
//! a fixed order under the API's (camelCase) names. Records refer to each other by slug, never by
//! id, so a file means the same on any database. Times are RFC 3339 in UTC with exactly six
//! fractional digits (the precision both databases keep), so a time reads back and writes out
//! the same on either.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::entities::{ArticleKind, ArticleStatus, BodyFormat, License};

/// The `format` of the header line.
pub const FORMAT: &str = "newsroom-export";
/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// Always [`VERSION`].
    pub version: u64,
}

/// A time as the file writes it: `2020-07-03T08:00:00.000000Z`. Any RFC 3339 time reads, and is
/// taken to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub DateTime<Utc>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| Time(crate::clock::truncate(t.with_timezone(&Utc))))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{text}` is not an RFC 3339 time such as 2020-07-03T08:00:00.000000Z"
                ))
            })
    }
}

impl From<DateTime<Utc>> for Time {
    fn from(at: DateTime<Utc>) -> Self {
        Time(at)
    }
}

fn first_version() -> i32 {
    1
}

fn markdown() -> BodyFormat {
    BodyFormat::Markdown
}

/// A site setting, by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingRecord {
    /// The key (`name`, `icp_filing`, ...).
    pub key: String,
    /// The value.
    pub value: String,
    /// When it was last set; the import's time when absent.
    pub updated_at: Option<Time>,
}

/// A channel; its parent comes before it in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelRecord {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The parent's slug; `null` for a top-level channel.
    pub parent: Option<String>,
    /// Order among its siblings.
    #[serde(default)]
    pub position: i32,
    /// When it was created; the import's time when absent.
    pub created_at: Option<Time>,
}

/// A source. Where its feed stands (last fetch, errors) is this installation's state, not
/// content, and is not carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceRecord {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Home page.
    pub homepage: Option<String>,
    /// RSS or Atom feed.
    pub feed_url: Option<String>,
    /// The channel its feed items are filed in, by slug.
    pub feed_channel: Option<String>,
    /// Terms its work is carried under.
    pub license: License,
    /// Whether partners may receive its articles.
    #[serde(default)]
    pub syndication_allowed: bool,
    /// Disclaimer for its articles.
    pub disclaimer: Option<String>,
    /// Where takedown requests go.
    pub takedown_contact: Option<String>,
    /// Created; the import's time when absent.
    pub created_at: Option<Time>,
    /// Last changed; the import's time when absent.
    pub updated_at: Option<Time>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRecord {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Created; the import's time when absent.
    pub created_at: Option<Time>,
}

/// A standing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageRecord {
    /// Unique slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Body as written.
    pub body: String,
    /// What the body is written in.
    #[serde(default = "markdown")]
    pub body_format: BodyFormat,
    /// Linked from the footer.
    #[serde(default)]
    pub in_footer: bool,
    /// Order among the footer links.
    #[serde(default)]
    pub position: i32,
    /// Created; the import's time when absent.
    pub created_at: Option<Time>,
    /// Last changed; the import's time when absent.
    pub updated_at: Option<Time>,
}

/// An article in any status, with its references by slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArticleRecord {
    /// Unique slug.
    pub slug: String,
    /// Headline.
    pub title: String,
    /// The editor's summary (核心提示).
    pub lead: Option<String>,
    /// Body as written.
    pub body: String,
    /// What the body is written in.
    #[serde(default = "markdown")]
    pub body_format: BodyFormat,
    /// Cover image.
    pub cover_image: Option<String>,
    /// Byline.
    pub author: Option<String>,
    /// Channel slug.
    pub channel: String,
    /// Source slug.
    pub source: Option<String>,
    /// Where a reprint was first published.
    pub original_url: Option<String>,
    /// When a reprint was first published there.
    pub original_published_at: Option<Time>,
    /// Own, reprint or sponsored.
    pub kind: ArticleKind,
    /// Draft, scheduled, published, archived or taken down.
    pub status: ArticleStatus,
    /// When it became (or, scheduled, becomes) visible.
    pub published_at: Option<Time>,
    /// 推荐图文.
    #[serde(default)]
    pub featured: bool,
    /// 推荐资讯.
    #[serde(default)]
    pub recommended: bool,
    /// Disclaimer override.
    pub disclaimer: Option<String>,
    /// Tag slugs, in order.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Views so far.
    #[serde(default)]
    pub view_count: i64,
    /// The version an edit names.
    #[serde(default = "first_version")]
    pub version: i32,
    /// Created; the import's time when absent.
    pub created_at: Option<Time>,
    /// Last saved; the import's time when absent.
    pub updated_at: Option<Time>,
}

/// One line of the file after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `type: "setting"`.
    Setting(SettingRecord),
    /// `type: "channel"`.
    Channel(ChannelRecord),
    /// `type: "source"`.
    Source(SourceRecord),
    /// `type: "tag"`.
    Tag(TagRecord),
    /// `type: "page"`.
    Page(PageRecord),
    /// `type: "article"`.
    Article(Box<ArticleRecord>),
}

/// The record types, in the order an export writes them.
pub const TYPES: [&str; 6] = ["setting", "channel", "source", "tag", "page", "article"];

/// The fields of a record that say when it was written, how often it was read and how often
/// saved, rather than what it says: two records that differ only in these are the same content.
pub const BOOKKEEPING: [&str; 4] = ["createdAt", "updatedAt", "viewCount", "version"];

/// Why a line is not a record: the field at fault (when one is) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFault {
    /// The field, as the file names it.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl LineFault {
    fn new(field: Option<&str>, message: impl Into<String>) -> Self {
        LineFault {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    record: &'a T,
}

impl Record {
    /// The record's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Setting(_) => "setting",
            Record::Channel(_) => "channel",
            Record::Source(_) => "source",
            Record::Tag(_) => "tag",
            Record::Page(_) => "page",
            Record::Article(_) => "article",
        }
    }

    /// The record as its line (without the line break): `type` first, then its fields in
    /// declaration order.
    pub fn to_line(&self) -> serde_json::Result<String> {
        fn line<T: Serialize>(kind: &'static str, record: &T) -> serde_json::Result<String> {
            serde_json::to_string(&Tagged { kind, record })
        }
        let kind = self.kind();
        match self {
            Record::Setting(r) => line(kind, r),
            Record::Channel(r) => line(kind, r),
            Record::Source(r) => line(kind, r),
            Record::Tag(r) => line(kind, r),
            Record::Page(r) => line(kind, r),
            Record::Article(r) => line(kind, r.as_ref()),
        }
    }

    /// The record as a JSON object, for comparing records field by field.
    pub fn to_value(&self) -> serde_json::Result<Value> {
        match self {
            Record::Setting(r) => serde_json::to_value(r),
            Record::Channel(r) => serde_json::to_value(r),
            Record::Source(r) => serde_json::to_value(r),
            Record::Tag(r) => serde_json::to_value(r),
            Record::Page(r) => serde_json::to_value(r),
            Record::Article(r) => serde_json::to_value(r.as_ref()),
        }
    }

    /// Reads one line: a JSON object with a known `type` and that type's fields, each of the
    /// right kind. Says which field is wrong where it can.
    pub fn parse(line: &str) -> Result<Record, LineFault> {
        let mut object = object(line)?;
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(LineFault::new(Some("type"), "must be a string")),
            None => {
                return Err(LineFault::new(
                    Some("type"),
                    format!(
                        "is missing; every record names its type, one of {}",
                        TYPES.join(", ")
                    ),
                ));
            }
        };
        let fields = Value::Object(object);
        Ok(match kind.as_str() {
            "setting" => Record::Setting(fields_of(fields)?),
            "channel" => Record::Channel(fields_of(fields)?),
            "source" => Record::Source(fields_of(fields)?),
            "tag" => Record::Tag(fields_of(fields)?),
            "page" => Record::Page(fields_of(fields)?),
            "article" => Record::Article(Box::new(fields_of(fields)?)),
            other => {
                return Err(LineFault::new(
                    Some("type"),
                    format!(
                        "`{other}` is not a record type; expected one of {}",
                        TYPES.join(", ")
                    ),
                ));
            }
        })
    }
}

/// Checks the header line: the right format, a version this build reads.
pub fn parse_header(line: &str) -> Result<(), LineFault> {
    let expected = format!("{{\"format\":\"{FORMAT}\",\"version\":{VERSION}}}");
    let not_ours = || {
        LineFault::new(
            Some("format"),
            format!("this is not a Newsroom export: its first line must be the header {expected}"),
        )
    };
    let object = object(line).map_err(|_| not_ours())?;
    if object.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(not_ours());
    }
    match object.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => {
            return Err(LineFault::new(
                Some("version"),
                format!("version {v} is not supported: this build reads version {VERSION}"),
            ));
        }
        None => return Err(LineFault::new(Some("version"), "is missing")),
    }
    if let Some(extra) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "format" | "version"))
    {
        return Err(LineFault::new(Some(extra), "is not a field of the header"));
    }
    Ok(())
}

fn object(line: &str) -> Result<Map<String, Value>, LineFault> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(LineFault::new(None, "must be a JSON object")),
        Err(e) => Err(LineFault::new(None, format!("is not valid JSON: {e}"))),
    }
}

/// Deserializes a record's fields, naming the one at fault: the path serde_path_to_error tracks,
/// or for a missing or unknown field (reported on the object itself) the name in the message.
fn fields_of<T: DeserializeOwned>(fields: Value) -> Result<T, LineFault> {
    serde_path_to_error::deserialize(fields).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            named_in(&message)
        } else {
            Some(path)
        };
        LineFault {
            field,
            message: readable(&message),
        }
    })
}

/// The name between the first pair of backticks in serde's "missing field `x`" and
/// "unknown field `x`, expected ...".
fn named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// serde's message, made to read after the field's name.
fn readable(message: &str) -> String {
    if message.starts_with("missing field") {
        "is missing".to_owned()
    } else if message.starts_with("unknown field") {
        "is not a field of this record type".to_owned()
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn tag() -> Record {
        Record::Tag(TagRecord {
            slug: "shuang-guo-ban".into(),
            name: "双过半".into(),
            created_at: Some(Time(Utc.with_ymd_and_hms(2020, 7, 3, 8, 0, 0).unwrap())),
        })
    }

    #[test]
    fn records_are_written_type_first_with_microsecond_utc_times() {
        assert_eq!(
            tag().to_line().unwrap(),
            r#"{"type":"tag","slug":"shuang-guo-ban","name":"双过半","createdAt":"2020-07-03T08:00:00.000000Z"}"#
        );
        let back = Record::parse(&tag().to_line().unwrap()).unwrap();
        assert_eq!(back, tag());
        let shifted = Record::parse(
            r#"{"type":"tag","slug":"a","name":"甲","createdAt":"2020-07-03T16:00:00.1234567+08:00"}"#,
        )
        .unwrap();
        let Record::Tag(t) = shifted else { panic!() };
        assert_eq!(
            serde_json::to_string(&t.created_at).unwrap(),
            r#""2020-07-03T08:00:00.123456Z""#
        );
    }

    #[test]
    fn faults_name_the_field() {
        let fault = |line: &str| Record::parse(line).unwrap_err();
        assert_eq!(
            fault(r#"{"type":"tag","slug":"a"}"#).field.as_deref(),
            Some("name")
        );
        assert_eq!(
            fault(r#"{"type":"tag","slug":"a","name":"甲","colour":"red"}"#)
                .field
                .as_deref(),
            Some("colour")
        );
        assert_eq!(
            fault(r#"{"type":"tag","slug":5,"name":"甲"}"#)
                .field
                .as_deref(),
            Some("slug")
        );
        assert_eq!(
            fault(r#"{"type":"article","slug":"a","title":"t","body":"","channel":"c","kind":"reprint","status":"gone"}"#)
                .field
                .as_deref(),
            Some("status")
        );
        assert_eq!(
            fault(r#"{"type":"article","slug":"a","title":"t","body":"","channel":"c","kind":"reprint","status":"draft","tags":["a",1]}"#)
                .field
                .as_deref(),
            Some("tags[1]")
        );
        assert_eq!(
            fault(r#"{"type":"tag","slug":"a","name":"甲","createdAt":"yesterday"}"#)
                .field
                .as_deref(),
            Some("createdAt")
        );
        assert_eq!(fault(r#"{"type":"user"}"#).field.as_deref(), Some("type"));
        assert_eq!(fault(r#"{"slug":"a"}"#).field.as_deref(), Some("type"));
        let broken = fault(r#"{"type":"tag","#);
        assert_eq!(broken.field, None);
        assert!(
            broken.message.starts_with("is not valid JSON"),
            "{}",
            broken.message
        );
    }

    #[test]
    fn the_header_names_format_and_version() {
        assert!(parse_header(r#"{"format":"newsroom-export","version":1}"#).is_ok());
        assert_eq!(
            parse_header(r#"{"format":"newsroom-export","version":2}"#)
                .unwrap_err()
                .field
                .as_deref(),
            Some("version")
        );
        assert_eq!(
            parse_header(r#"{"type":"tag","slug":"a","name":"甲"}"#)
                .unwrap_err()
                .field
                .as_deref(),
            Some("format")
        );
        assert!(parse_header("not json").is_err());
    }
}
