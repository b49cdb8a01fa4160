//! Writing the export: every record, in an order that depends on the content alone (never on
//! ids or on the database's collation), so the same content gives the same bytes on SQLite and
//! PostgreSQL.

use std::{
    collections::{BTreeMap, HashMap},
    io::Write,
};

use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, QueryFilter,
    QuerySelect, TransactionOptions, TransactionSession, TransactionTrait,
};

use super::{
    Counts, ExportError,
    format::{
        ArticleRecord, ChannelRecord, FORMAT, Header, PageRecord, Record, SettingRecord,
        SourceRecord, TagRecord, VERSION,
    },
};
use crate::{
    catalog,
    entities::{article, channel, page, site_setting, source, tag},
    error::Error,
};

/// Articles read per query.
const BATCH: usize = 500;

pub(super) fn setting_record(s: &site_setting::Model) -> SettingRecord {
    SettingRecord {
        key: s.key.clone(),
        value: s.value.clone(),
        updated_at: Some(s.updated_at.into()),
    }
}

pub(super) fn channel_record(c: &channel::Model, parent: Option<String>) -> ChannelRecord {
    ChannelRecord {
        slug: c.slug.clone(),
        name: c.name.clone(),
        parent,
        position: c.position,
        created_at: Some(c.created_at.into()),
    }
}

pub(super) fn source_record(s: &source::Model, feed_channel: Option<String>) -> SourceRecord {
    SourceRecord {
        slug: s.slug.clone(),
        name: s.name.clone(),
        homepage: s.homepage.clone(),
        feed_url: s.feed_url.clone(),
        feed_channel,
        license: s.license,
        syndication_allowed: s.syndication_allowed,
        disclaimer: s.disclaimer.clone(),
        takedown_contact: s.takedown_contact.clone(),
        created_at: Some(s.created_at.into()),
        updated_at: Some(s.updated_at.into()),
    }
}

pub(super) fn tag_record(t: &tag::Model) -> TagRecord {
    TagRecord {
        slug: t.slug.clone(),
        name: t.name.clone(),
        created_at: Some(t.created_at.into()),
    }
}

pub(super) fn page_record(p: &page::Model) -> PageRecord {
    PageRecord {
        slug: p.slug.clone(),
        title: p.title.clone(),
        body: p.body.clone(),
        body_format: p.body_format,
        in_footer: p.in_footer,
        position: p.position,
        created_at: Some(p.created_at.into()),
        updated_at: Some(p.updated_at.into()),
    }
}

pub(super) fn article_record(
    a: &article::Model,
    channel: String,
    source: Option<String>,
    tags: Vec<String>,
) -> ArticleRecord {
    ArticleRecord {
        slug: a.slug.clone(),
        title: a.title.clone(),
        lead: a.lead.clone(),
        body: a.body.clone(),
        body_format: a.body_format,
        cover_image: a.cover_image.clone(),
        author: a.author.clone(),
        channel,
        source,
        original_url: a.original_url.clone(),
        original_published_at: a.original_published_at.map(Into::into),
        kind: a.kind,
        status: a.status,
        published_at: a.published_at.map(Into::into),
        featured: a.featured,
        recommended: a.recommended,
        disclaimer: a.disclaimer.clone(),
        tags,
        view_count: a.view_count,
        version: a.version,
        created_at: Some(a.created_at.into()),
        updated_at: Some(a.updated_at.into()),
    }
}

/// Channels parents first: each level in navigation order (position, then slug), each channel
/// followed by its sub-channels, as the navigation shows them.
fn tree_order(channels: Vec<channel::Model>) -> Vec<channel::Model> {
    let mut children: BTreeMap<Option<i64>, Vec<channel::Model>> = BTreeMap::new();
    for c in channels {
        children.entry(c.parent_id).or_default().push(c);
    }
    for level in children.values_mut() {
        level.sort_by(|a, b| (a.position, &a.slug).cmp(&(b.position, &b.slug)));
    }
    let mut ordered = Vec::new();
    let mut stack: Vec<channel::Model> = children.remove(&None).unwrap_or_default();
    stack.reverse();
    while let Some(c) = stack.pop() {
        if let Some(mut below) = children.remove(&Some(c.id)) {
            below.reverse();
            stack.extend(below);
        }
        ordered.push(c);
    }
    // A parent that cannot be reached from the top (the foreign key forbids it) still leaves
    // its channels in the file rather than lose them.
    let mut rest: Vec<channel::Model> = children.into_values().flatten().collect();
    rest.sort_by(|a, b| a.slug.cmp(&b.slug));
    ordered.extend(rest);
    ordered
}

/// A read transaction that sees one state of the database from its first read to its end:
/// PostgreSQL's REPEATABLE READ (read-only); on SQLite (WAL) every read transaction does.
async fn snapshot<C: TransactionTrait + ConnectionTrait>(
    db: &C,
) -> Result<C::Transaction, sea_orm::DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.begin_with_options(TransactionOptions {
            isolation_level: Some(IsolationLevel::RepeatableRead),
            access_mode: Some(AccessMode::ReadOnly),
            ..TransactionOptions::default()
        })
        .await
    } else {
        db.begin().await
    }
}

/// Writes every setting, channel, source, tag, page and article to `out` as JSON Lines (see
/// [`super::format`]), all read from one consistent state of the database. Calls `progress` with
/// the number of records written after each one. Returns what was written.
pub async fn export<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    out: &mut dyn Write,
    mut progress: impl FnMut(u64),
) -> Result<Counts, ExportError> {
    let txn = snapshot(db).await.map_err(Error::from)?;
    let mut counts = Counts::default();
    serde_json::to_writer(
        &mut *out,
        &Header {
            format: FORMAT,
            version: VERSION,
        },
    )?;
    out.write_all(b"\n")?;
    let mut emit = |record: Record, out: &mut dyn Write| -> Result<(), ExportError> {
        out.write_all(record.to_line()?.as_bytes())?;
        out.write_all(b"\n")?;
        counts.add(record.kind());
        progress(counts.total());
        Ok(())
    };

    let mut settings = site_setting::Entity::find()
        .all(&txn)
        .await
        .map_err(Error::from)?;
    settings.sort_by(|a, b| a.key.cmp(&b.key));
    for s in &settings {
        emit(Record::Setting(setting_record(s)), out)?;
    }

    let channels = channel::Entity::find()
        .all(&txn)
        .await
        .map_err(Error::from)?;
    let channel_slugs: HashMap<i64, String> =
        channels.iter().map(|c| (c.id, c.slug.clone())).collect();
    for c in tree_order(channels) {
        let parent = c.parent_id.and_then(|id| channel_slugs.get(&id).cloned());
        emit(Record::Channel(channel_record(&c, parent)), out)?;
    }

    let mut sources = source::Entity::find()
        .all(&txn)
        .await
        .map_err(Error::from)?;
    sources.sort_by(|a, b| a.slug.cmp(&b.slug));
    let source_slugs: HashMap<i64, String> =
        sources.iter().map(|s| (s.id, s.slug.clone())).collect();
    for s in &sources {
        let feed_channel = s
            .feed_channel_id
            .and_then(|id| channel_slugs.get(&id).cloned());
        emit(Record::Source(source_record(s, feed_channel)), out)?;
    }

    let mut tags = tag::Entity::find().all(&txn).await.map_err(Error::from)?;
    tags.sort_by(|a, b| a.slug.cmp(&b.slug));
    for t in &tags {
        emit(Record::Tag(tag_record(t)), out)?;
    }

    let mut pages = page::Entity::find().all(&txn).await.map_err(Error::from)?;
    pages.sort_by(|a, b| a.slug.cmp(&b.slug));
    for p in &pages {
        emit(Record::Page(page_record(p)), out)?;
    }

    // Slugs sorted here, byte by byte: PostgreSQL's collation may order `a-b` after `ab`.
    let mut order: Vec<(String, i64)> = article::Entity::find()
        .select_only()
        .column(article::Column::Slug)
        .column(article::Column::Id)
        .into_tuple()
        .all(&txn)
        .await
        .map_err(Error::from)?;
    order.sort();
    for chunk in order.chunks(BATCH) {
        let ids: Vec<i64> = chunk.iter().map(|(_, id)| *id).collect();
        let mut rows: HashMap<i64, article::Model> = article::Entity::find()
            .filter(article::Column::Id.is_in(ids.iter().copied()))
            .all(&txn)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let mut tags = catalog::tags_of_articles(&txn, &ids).await?;
        for id in ids {
            let Some(a) = rows.remove(&id) else { continue };
            let channel = channel_slugs
                .get(&a.channel_id)
                .cloned()
                .unwrap_or_default();
            let source = a.source_id.and_then(|id| source_slugs.get(&id).cloned());
            let tags = tags
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.slug)
                .collect();
            emit(
                Record::Article(Box::new(article_record(&a, channel, source, tags))),
                out,
            )?;
        }
    }
    txn.commit().await.map_err(Error::from)?;
    out.flush()?;
    Ok(counts)
}
