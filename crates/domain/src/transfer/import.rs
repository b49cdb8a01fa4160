//! Reading an export into a database, in one transaction: every record is checked by the same
//! rules as an editor's save, and the first bad one stops the import with its line and field, so
//! nothing of a bad file is kept.
//!
//! A record whose slug (a setting's key) is already taken is compared with what is there: the
//! same content (timestamps, view count and version aside) is left as it is, so importing a file
//! twice, or into the site it came from, changes nothing; different content is a conflict that
//! stops the import. An import never overwrites an editor's work.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};
use serde_json::Value;

use super::{
    Counts, ImportError,
    export::{
        article_record, channel_record, page_record, setting_record, source_record, tag_record,
    },
    format::{
        ArticleRecord, BOOKKEEPING, ChannelRecord, LineFault, PageRecord, Record, SettingRecord,
        SourceRecord, TagRecord, Time, parse_header,
    },
};
use crate::{
    editorial::{
        self, Snapshot,
        catalog::{self as edit, ChannelInput, PageInput, SourceInput},
        checks,
    },
    entities::{ArticleStatus, article, channel, page, site_setting, source, tag},
    error::{Error, Result},
    search::Segmenter,
};

/// Articles indexed per batch once every record is in.
const INDEX_BATCH: usize = 500;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Records written.
    pub created: Counts,
    /// Records already there with the same content, left as they were.
    pub unchanged: Counts,
}

/// What became of one record.
enum Outcome {
    Created,
    Unchanged,
}

/// A record's failure: the field at fault, if known, and the error.
struct Fault {
    field: Option<String>,
    error: Error,
}

impl From<Error> for Fault {
    fn from(error: Error) -> Self {
        let field = match &error {
            Error::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        Fault { field, error }
    }
}

impl From<sea_orm::DbErr> for Fault {
    fn from(err: sea_orm::DbErr) -> Self {
        Error::Database(err).into()
    }
}

impl From<LineFault> for Fault {
    fn from(fault: LineFault) -> Self {
        Fault {
            field: fault.field.clone(),
            error: Error::Validation {
                field: fault.field.unwrap_or_default(),
                message: fault.message,
            },
        }
    }
}

/// Reads `lines` (the header, then one record a line; blank lines are skipped) into `db` in one
/// transaction, calling `progress` with the number of records read after each one. On the first
/// bad or conflicting record, or a line that cannot be read, nothing is written and the error
/// names its line (1 is the header) and, where there is one, the field.
pub async fn import<C, I>(
    db: &C,
    segmenter: &Segmenter,
    lines: I,
    now: DateTime<Utc>,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError>
where
    C: ConnectionTrait + TransactionTrait,
    I: IntoIterator<Item = std::io::Result<String>>,
{
    let started = std::time::Instant::now();
    let mut lines = lines.into_iter();
    let header = match lines.next() {
        Some(Ok(line)) => line,
        Some(Err(source)) => return Err(ImportError::Read { line: 1, source }),
        None => {
            return Err(ImportError::Record {
                line: 1,
                field: None,
                error: Error::validation("format", "the file is empty: no header line"),
            });
        }
    };
    parse_header(header.trim_start_matches('\u{feff}'))
        .map_err(|fault| located(1, fault.into()))?;

    let txn = crate::db::begin_write(db)
        .await
        .map_err(|e| located(1, e.into()))?;
    let mut report = ImportReport::default();
    let mut created_articles = Vec::new();
    let mut line_no = 1;
    let mut last_article_line = 1;
    for line in lines {
        line_no += 1;
        let line = line.map_err(|source| ImportError::Read {
            line: line_no,
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let record = Record::parse(&line).map_err(|fault| located(line_no, fault.into()))?;
        let kind = record.kind();
        let outcome = apply(&txn, record, now, &mut created_articles)
            .await
            .map_err(|fault| located(line_no, fault))?;
        if kind == "article" {
            last_article_line = line_no;
        }
        match outcome {
            Outcome::Created => report.created.add(kind),
            Outcome::Unchanged => report.unchanged.add(kind),
        }
        progress(report.created.total() + report.unchanged.total());
    }
    // Indexed once every record is in: an article's tags and source are final by then.
    for chunk in created_articles.chunks(INDEX_BATCH) {
        let rows = stored(&txn, chunk)
            .await
            .map_err(|e| located(last_article_line, e.into()))?;
        crate::search::index_articles(&txn, segmenter, &rows)
            .await
            .map_err(|e| located(last_article_line, e.into()))?;
    }
    // The change log last, stamped with the time it is written: readers of the log take entries
    // once they are `SETTLE` old, so entries stamped when a long import began would commit behind
    // their cursors and never reach them.
    let recorded_at = now + TimeDelta::from_std(started.elapsed()).unwrap_or(TimeDelta::zero());
    for chunk in created_articles.chunks(INDEX_BATCH) {
        let rows = stored(&txn, chunk)
            .await
            .map_err(|e| located(last_article_line, e.into()))?;
        for row in &rows {
            crate::changes::record(&txn, None, row, recorded_at)
                .await
                .map_err(|e| located(last_article_line, e.into()))?;
        }
    }
    txn.commit().await.map_err(|e| located(line_no, e.into()))?;
    Ok(report)
}

/// The articles of `ids` as this import stored them.
async fn stored<C: ConnectionTrait>(
    txn: &C,
    ids: &[i64],
) -> std::result::Result<Vec<article::Model>, sea_orm::DbErr> {
    article::Entity::find()
        .filter(article::Column::Id.is_in(ids.iter().copied()))
        .all(txn)
        .await
}

fn located(line: u64, fault: Fault) -> ImportError {
    ImportError::Record {
        line,
        field: fault.field,
        error: fault.error,
    }
}

async fn apply<C: ConnectionTrait>(
    txn: &C,
    record: Record,
    now: DateTime<Utc>,
    created_articles: &mut Vec<i64>,
) -> Result<Outcome, Fault> {
    match record {
        Record::Setting(r) => setting(txn, r, now).await,
        Record::Channel(r) => channel(txn, r, now).await,
        Record::Source(r) => source(txn, r, now).await,
        Record::Tag(r) => tag(txn, r, now).await,
        Record::Page(r) => page(txn, r, now).await,
        Record::Article(r) => {
            let (outcome, id) = article(txn, *r, now).await?;
            if let Some(id) = id {
                created_articles.push(id);
            }
            Ok(outcome)
        }
    }
}

/// A time from the file, checked like an editor's; the import's time when absent.
fn time_or(field: &str, at: Option<Time>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let at = at.map_or(now, |t| t.0);
    checks::time(field, at)?;
    Ok(at)
}

fn optional_time(field: &str, at: Option<Time>) -> Result<Option<DateTime<Utc>>> {
    at.map(|t| checks::time(field, t.0).map(|()| t.0))
        .transpose()
}

/// Same content, or a conflict naming the first field (alphabetically) that differs.
fn same_or_conflict(
    what: &str,
    slug: &str,
    file: Record,
    stored: Record,
) -> Result<Outcome, Fault> {
    let json = |r: &Record| {
        r.to_value()
            .map_err(|e| Error::validation("type", e.to_string()))
    };
    let (Value::Object(mut file), Value::Object(mut stored)) = (json(&file)?, json(&stored)?)
    else {
        return Err(Error::validation("type", "records are objects").into());
    };
    for key in BOOKKEEPING {
        file.remove(key);
        stored.remove(key);
    }
    match file
        .iter()
        .find(|(key, value)| stored.get(*key) != Some(value))
    {
        None => Ok(Outcome::Unchanged),
        Some((key, _)) => Err(Fault {
            field: Some(key.clone()),
            error: Error::Conflict(format!(
                "{what} `{slug}` already exists with a different `{key}`; an import never overwrites what is there: change it (or this line) so they agree, or import into an empty database"
            )),
        }),
    }
}

/// The slug of the channel `id`, if there is one.
async fn channel_slug<C: ConnectionTrait>(txn: &C, id: Option<i64>) -> Result<Option<String>> {
    Ok(match id {
        Some(id) => channel::Entity::find_by_id(id)
            .one(txn)
            .await?
            .map(|c| c.slug),
        None => None,
    })
}

async fn setting<C: ConnectionTrait>(
    txn: &C,
    r: SettingRecord,
    now: DateTime<Utc>,
) -> Result<Outcome, Fault> {
    let key_ok = !r.key.is_empty()
        && r.key.len() <= 64
        && r.key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !key_ok {
        return Err(Error::validation(
            "key",
            "must be 1 to 64 lowercase ASCII letters, digits and underscores, like `icp_filing`",
        )
        .into());
    }
    let value = edit::check_setting(&r.key, "value", &r.value)?;
    let updated_at = time_or("updatedAt", r.updated_at, now)?;
    let checked = SettingRecord { value, ..r.clone() };
    if let Some(stored) = site_setting::Entity::find_by_id(r.key.clone())
        .one(txn)
        .await?
    {
        return same_or_conflict(
            "the setting",
            &r.key,
            Record::Setting(checked),
            Record::Setting(setting_record(&stored)),
        );
    }
    site_setting::ActiveModel {
        key: Set(checked.key),
        value: Set(checked.value),
        updated_at: Set(updated_at),
    }
    .insert(txn)
    .await?;
    Ok(Outcome::Created)
}

async fn channel<C: ConnectionTrait>(
    txn: &C,
    r: ChannelRecord,
    now: DateTime<Utc>,
) -> Result<Outcome, Fault> {
    let name = edit::check_channel(&ChannelInput {
        slug: r.slug.clone(),
        name: r.name.clone(),
        parent: r.parent.clone(),
        position: r.position,
    })?;
    let created_at = time_or("createdAt", r.created_at, now)?;
    let parent_id = match &r.parent {
        Some(slug) => Some(edit::channel_id("parent", txn, slug).await?),
        None => None,
    };
    let checked = ChannelRecord { name, ..r };
    if let Some(stored) = channel::Entity::find()
        .filter(channel::Column::Slug.eq(&checked.slug))
        .one(txn)
        .await?
    {
        let parent = channel_slug(txn, stored.parent_id).await?;
        let slug = checked.slug.clone();
        return same_or_conflict(
            "the channel",
            &slug,
            Record::Channel(checked),
            Record::Channel(channel_record(&stored, parent)),
        );
    }
    channel::ActiveModel {
        slug: Set(checked.slug),
        name: Set(checked.name),
        parent_id: Set(parent_id),
        position: Set(checked.position),
        created_at: Set(created_at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(Outcome::Created)
}

async fn source<C: ConnectionTrait>(
    txn: &C,
    r: SourceRecord,
    now: DateTime<Utc>,
) -> Result<Outcome, Fault> {
    let input = edit::check_source(&SourceInput {
        slug: r.slug.clone(),
        name: r.name.clone(),
        homepage: r.homepage.clone(),
        feed_url: r.feed_url.clone(),
        feed_channel: r.feed_channel.clone(),
        license: r.license,
        syndication_allowed: r.syndication_allowed,
        disclaimer: r.disclaimer.clone(),
        takedown_contact: r.takedown_contact.clone(),
    })?;
    let created_at = time_or("createdAt", r.created_at, now)?;
    let updated_at = time_or("updatedAt", r.updated_at, now)?;
    let feed_channel_id = match &input.feed_channel {
        Some(slug) => Some(edit::channel_id("feedChannel", txn, slug).await?),
        None => None,
    };
    let checked = SourceRecord {
        slug: input.slug.clone(),
        name: input.name.clone(),
        homepage: input.homepage.clone(),
        feed_url: input.feed_url.clone(),
        feed_channel: input.feed_channel.clone(),
        license: input.license,
        syndication_allowed: input.syndication_allowed,
        disclaimer: input.disclaimer.clone(),
        takedown_contact: input.takedown_contact.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    };
    if let Some(stored) = source::Entity::find()
        .filter(source::Column::Slug.eq(&input.slug))
        .one(txn)
        .await?
    {
        let feed_channel = channel_slug(txn, stored.feed_channel_id).await?;
        return same_or_conflict(
            "the source",
            &input.slug,
            Record::Source(checked),
            Record::Source(source_record(&stored, feed_channel)),
        );
    }
    source::ActiveModel {
        slug: Set(input.slug),
        name: Set(input.name),
        homepage: Set(input.homepage),
        feed_url: Set(input.feed_url),
        feed_channel_id: Set(feed_channel_id),
        license: Set(input.license),
        syndication_allowed: Set(input.syndication_allowed),
        disclaimer: Set(input.disclaimer),
        takedown_contact: Set(input.takedown_contact),
        created_at: Set(created_at),
        updated_at: Set(updated_at),
        feed_failures: Set(0),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(Outcome::Created)
}

async fn tag<C: ConnectionTrait>(
    txn: &C,
    r: TagRecord,
    now: DateTime<Utc>,
) -> Result<Outcome, Fault> {
    let name = edit::check_tag(&r.slug, &r.name)?;
    let created_at = time_or("createdAt", r.created_at, now)?;
    let checked = TagRecord { name, ..r };
    if let Some(stored) = tag::Entity::find()
        .filter(tag::Column::Slug.eq(&checked.slug))
        .one(txn)
        .await?
    {
        let slug = checked.slug.clone();
        return same_or_conflict(
            "the tag",
            &slug,
            Record::Tag(checked),
            Record::Tag(tag_record(&stored)),
        );
    }
    tag::ActiveModel {
        slug: Set(checked.slug),
        name: Set(checked.name),
        created_at: Set(created_at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(Outcome::Created)
}

async fn page<C: ConnectionTrait>(
    txn: &C,
    r: PageRecord,
    now: DateTime<Utc>,
) -> Result<Outcome, Fault> {
    let input = edit::check_page(PageInput {
        slug: r.slug.clone(),
        title: r.title.clone(),
        body: r.body.clone(),
        body_format: r.body_format,
        in_footer: r.in_footer,
        position: r.position,
    })?;
    let created_at = time_or("createdAt", r.created_at, now)?;
    let updated_at = time_or("updatedAt", r.updated_at, now)?;
    let checked = PageRecord {
        title: input.title.clone(),
        ..r
    };
    if let Some(stored) = page::Entity::find()
        .filter(page::Column::Slug.eq(&input.slug))
        .one(txn)
        .await?
    {
        return same_or_conflict(
            "the page",
            &input.slug,
            Record::Page(checked),
            Record::Page(page_record(&stored)),
        );
    }
    page::ActiveModel {
        slug: Set(input.slug),
        title: Set(input.title),
        body: Set(input.body),
        body_format: Set(input.body_format),
        in_footer: Set(input.in_footer),
        position: Set(input.position),
        created_at: Set(created_at),
        updated_at: Set(updated_at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(Outcome::Created)
}

/// An article: checked by the editorial rules (references, reprint attribution, featured needs
/// a cover, ...) plus what only an import can get wrong (a publish time for what is published,
/// a version and view count that make sense). A new one is written with its tags, a first
/// revision at its version (saved by no one: the history before the import stays where it was),
/// and its entry in the change log, so partners hear of it; its index rows follow at the end.
async fn article<C: ConnectionTrait>(
    txn: &C,
    r: ArticleRecord,
    now: DateTime<Utc>,
) -> Result<(Outcome, Option<i64>), Fault> {
    if r.version < 1 {
        return Err(Error::validation("version", "must be at least 1").into());
    }
    if r.view_count < 0 {
        return Err(Error::validation("viewCount", "must not be negative").into());
    }
    let published_at = optional_time("publishedAt", r.published_at)?;
    let original_published_at = optional_time("originalPublishedAt", r.original_published_at)?;
    let created_at = time_or("createdAt", r.created_at, now)?;
    let updated_at = time_or("updatedAt", r.updated_at, now)?;
    if matches!(
        r.status,
        ArticleStatus::Published | ArticleStatus::Scheduled
    ) && published_at.is_none()
    {
        return Err(Error::validation(
            "publishedAt",
            "a published or scheduled article needs the time it is visible from",
        )
        .into());
    }
    let stored = article::Entity::find()
        .filter(article::Column::Slug.eq(&r.slug))
        .one(txn)
        .await?;
    let snapshot = Snapshot {
        title: r.title.clone(),
        slug: r.slug.clone(),
        lead: r.lead.clone(),
        body: r.body.clone(),
        body_format: r.body_format,
        cover_image: r.cover_image.clone(),
        author: r.author.clone(),
        channel: r.channel.clone(),
        source: r.source.clone(),
        original_url: r.original_url.clone(),
        kind: r.kind,
        status: r.status,
        published_at,
        featured: r.featured,
        recommended: r.recommended,
        disclaimer: r.disclaimer.clone(),
        tags: r.tags.clone(),
    };
    let resolved = editorial::validate(txn, snapshot, stored.as_ref().map(|a| a.id)).await?;
    if let Some(stored) = stored {
        let s = &resolved.snapshot;
        let checked = ArticleRecord {
            title: s.title.clone(),
            lead: s.lead.clone(),
            author: s.author.clone(),
            disclaimer: s.disclaimer.clone(),
            cover_image: s.cover_image.clone(),
            original_url: s.original_url.clone(),
            ..r
        };
        let existing = editorial::snapshot_of(txn, &stored).await?;
        let on_file = article_record(&stored, existing.channel, existing.source, existing.tags);
        return same_or_conflict(
            "the article",
            &stored.slug,
            Record::Article(Box::new(checked)),
            Record::Article(Box::new(on_file)),
        )
        .map(|outcome| (outcome, None));
    }
    let mut row = editorial::content_columns(&resolved);
    row.view_count = Set(r.view_count);
    row.version = Set(r.version);
    row.created_at = Set(created_at);
    row.updated_at = Set(updated_at);
    row.original_published_at = Set(original_published_at);
    let saved = row.insert(txn).await.map_err(editorial::slug_clash)?;
    editorial::replace_tags(txn, saved.id, &resolved.tag_ids).await?;
    editorial::record_revision(txn, saved.id, r.version, &resolved.snapshot, None, now).await?;
    // Its change-log entry is written once every record is in (see `import`).
    Ok((Outcome::Created, Some(saved.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_keep_their_field() {
        let fault: Fault = Error::validation("title", "must not be empty").into();
        assert_eq!(fault.field.as_deref(), Some("title"));
        let fault: Fault = Error::Conflict("x".into()).into();
        assert_eq!(fault.field, None);
    }
}
