//! Editing the reference data: sources, tags, channels, pages and site settings. Slugs are
//! checked and unique; a row that articles still use cannot be deleted (a conflict naming why),
//! and a channel cannot become its own ancestor. Articles are found by their tags' and source's
//! names, so renaming a tag or source, or deleting a tag, rewrites the search index rows of the
//! articles concerned in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait, TryIntoModel,
    sea_query::{OnConflict, Query},
};

use super::checks;
use crate::{
    entities::{
        BodyFormat, License, article, article_tag, channel, page, site_setting, source, tag,
    },
    error::{Error, Result},
    search::{Segmenter, index::reindex_where},
    site::keys,
};

/// The articles tagged `tag_id`.
fn tagged(tag_id: i64) -> Condition {
    Condition::all().add(
        article::Column::Id.in_subquery(
            Query::select()
                .column(article_tag::Column::ArticleId)
                .from(article_tag::Entity)
                .and_where(article_tag::Column::TagId.eq(tag_id))
                .to_owned(),
        ),
    )
}

fn unique_slug_clash(err: sea_orm::DbErr) -> Error {
    Error::unique_or_database(err, "slug", "is taken")
}

/// A delete that a row inserted meanwhile still refers to: a conflict, not a failure.
fn still_used(err: sea_orm::DbErr) -> Error {
    match err.sql_err() {
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
            Error::Conflict("it is still in use; change what uses it first".into())
        }
        _ => Error::Database(err),
    }
}

/// A source as an editor writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInput {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Home page URL.
    pub homepage: Option<String>,
    /// RSS or Atom feed URL.
    pub feed_url: Option<String>,
    /// The slug of the channel drafts taken in from its feed are filed in.
    pub feed_channel: Option<String>,
    /// Terms we carry its work under.
    pub license: License,
    /// Whether partners may receive its articles.
    pub syndication_allowed: bool,
    /// Disclaimer override for its articles.
    pub disclaimer: Option<String>,
    /// Where to send takedown requests.
    pub takedown_contact: Option<String>,
}

/// Checks a source and returns it trimmed; errors name the field.
pub(crate) fn check_source(input: &SourceInput) -> Result<SourceInput> {
    checks::slug("slug", &input.slug, 64)?;
    let homepage = checks::optional_text("homepage", input.homepage.as_deref(), 2000)?;
    if let Some(url) = &homepage {
        checks::url("homepage", url)?;
    }
    let feed_url = checks::optional_text("feedUrl", input.feed_url.as_deref(), 2000)?;
    if let Some(url) = &feed_url {
        checks::url("feedUrl", url)?;
    }
    Ok(SourceInput {
        slug: input.slug.clone(),
        name: checks::required_text("name", &input.name, 200)?,
        homepage,
        feed_url,
        feed_channel: input.feed_channel.clone(),
        license: input.license,
        syndication_allowed: input.syndication_allowed,
        disclaimer: checks::optional_text("disclaimer", input.disclaimer.as_deref(), 2000)?,
        takedown_contact: checks::optional_text(
            "takedownContact",
            input.takedown_contact.as_deref(),
            200,
        )?,
    })
}

/// Creates a source, or replaces every field of the source `id`.
pub async fn save_source<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    id: Option<i64>,
    input: SourceInput,
    now: DateTime<Utc>,
) -> Result<source::Model> {
    let input = check_source(&input)?;
    let txn = crate::db::begin_write(db).await?;
    let feed_channel_id = match &input.feed_channel {
        Some(slug) => Some(channel_id("feedChannel", &txn, slug).await?),
        None => None,
    };
    let before = match id {
        Some(id) => Some(
            source::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .ok_or(Error::NotFound { entity: "source" })?,
        ),
        None => None,
    };
    // What partners may have of its articles changes with these two.
    let reach_changed = before.as_ref().is_some_and(|b| {
        b.license != input.license || b.syndication_allowed != input.syndication_allowed
    });
    let renamed = before.as_ref().is_some_and(|b| b.name != input.name);
    // A new feed URL is fetched at the next round, whatever the old one's failures were.
    let new_feed = before.as_ref().is_none_or(|b| b.feed_url != input.feed_url);
    let mut row = match before {
        Some(before) => before.into(),
        None => source::ActiveModel {
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.slug = Set(input.slug);
    row.name = Set(input.name);
    row.homepage = Set(input.homepage);
    row.feed_url = Set(input.feed_url);
    row.feed_channel_id = Set(feed_channel_id);
    if new_feed {
        row.feed_checked_at = Set(None);
        row.feed_next_at = Set(None);
        row.feed_failures = Set(0);
        row.feed_error = Set(None);
    }
    row.license = Set(input.license);
    row.syndication_allowed = Set(input.syndication_allowed);
    row.disclaimer = Set(input.disclaimer);
    row.takedown_contact = Set(input.takedown_contact);
    row.updated_at = Set(now);
    let saved = row
        .save(&txn)
        .await
        .map_err(unique_slug_clash)?
        .try_into_model()
        .map_err(Error::Database)?;
    if reach_changed {
        crate::changes::record_source_change(&txn, saved.id, now).await?;
    }
    if renamed {
        let named = Condition::all().add(article::Column::SourceId.eq(saved.id));
        reindex_where(&txn, segmenter, named).await?;
    }
    txn.commit().await?;
    Ok(saved)
}

/// The id of the channel `slug`, or a validation error on `field`.
pub(crate) async fn channel_id<C: ConnectionTrait>(field: &str, db: &C, slug: &str) -> Result<i64> {
    Ok(channel::Entity::find()
        .filter(channel::Column::Slug.eq(slug))
        .one(db)
        .await?
        .ok_or_else(|| Error::validation(field, format!("no channel has the slug `{slug}`")))?
        .id)
}

/// Deletes a source no article names.
pub async fn delete_source<C: ConnectionTrait>(db: &C, id: i64) -> Result<()> {
    let used = article::Entity::find()
        .filter(article::Column::SourceId.eq(id))
        .count(db)
        .await?;
    if used > 0 {
        return Err(Error::Conflict(format!(
            "{used} article(s) name this source; change them first"
        )));
    }
    let gone = source::Entity::delete_by_id(id)
        .exec(db)
        .await
        .map_err(still_used)?;
    if gone.rows_affected == 0 {
        return Err(Error::NotFound { entity: "source" });
    }
    Ok(())
}

/// Checks a tag's slug and name; returns the name trimmed.
pub(crate) fn check_tag(slug: &str, name: &str) -> Result<String> {
    checks::slug("slug", slug, 64)?;
    checks::required_text("name", name, 64)
}

/// Creates a tag, or renames the tag `id`.
pub async fn save_tag<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    id: Option<i64>,
    slug: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<tag::Model> {
    let name = check_tag(slug, name)?;
    let txn = crate::db::begin_write(db).await?;
    let mut renamed = false;
    let mut row = match id {
        Some(id) => {
            let current = tag::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .ok_or(Error::NotFound { entity: "tag" })?;
            renamed = current.name != name;
            current.into()
        }
        None => tag::ActiveModel {
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.slug = Set(slug.to_owned());
    row.name = Set(name);
    let saved = row
        .save(&txn)
        .await
        .map_err(unique_slug_clash)?
        .try_into_model()
        .map_err(Error::Database)?;
    if renamed {
        reindex_where(&txn, segmenter, tagged(saved.id)).await?;
    }
    txn.commit().await?;
    Ok(saved)
}

/// Deletes a tag; articles simply lose it (and are no longer found by its name).
pub async fn delete_tag<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    id: i64,
) -> Result<()> {
    let txn = crate::db::begin_write(db).await?;
    let articles: Vec<i64> = article::Entity::find()
        .select_only()
        .column(article::Column::Id)
        .filter(tagged(id))
        .into_tuple()
        .all(&txn)
        .await?;
    let gone = tag::Entity::delete_by_id(id).exec(&txn).await?;
    if gone.rows_affected == 0 {
        return Err(Error::NotFound { entity: "tag" });
    }
    if !articles.is_empty() {
        let lost = Condition::all().add(article::Column::Id.is_in(articles));
        reindex_where(&txn, segmenter, lost).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A channel as an editor writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInput {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The parent channel's slug; `None` for a top-level channel.
    pub parent: Option<String>,
    /// Order among siblings.
    pub position: i32,
}

/// Checks a channel's slug and name; returns the name trimmed.
pub(crate) fn check_channel(input: &ChannelInput) -> Result<String> {
    checks::slug("slug", &input.slug, 64)?;
    checks::required_text("name", &input.name, 100)
}

/// Creates a channel, or replaces every field of the channel `id`.
pub async fn save_channel<C: ConnectionTrait>(
    db: &C,
    id: Option<i64>,
    input: ChannelInput,
    now: DateTime<Utc>,
) -> Result<channel::Model> {
    let name = check_channel(&input)?;
    let all = channel::Entity::find().all(db).await?;
    let parent_id = match &input.parent {
        Some(slug) => {
            let parent = all.iter().find(|c| &c.slug == slug).ok_or_else(|| {
                Error::validation("parent", format!("no channel has the slug `{slug}`"))
            })?;
            // Walk up from the new parent: meeting this channel would make a cycle.
            let mut at = Some(parent.id);
            while let Some(current) = at {
                if Some(current) == id {
                    return Err(Error::validation(
                        "parent",
                        "a channel cannot sit below itself",
                    ));
                }
                at = all
                    .iter()
                    .find(|c| c.id == current)
                    .and_then(|c| c.parent_id);
            }
            Some(parent.id)
        }
        None => None,
    };
    let mut row = match id {
        Some(id) => all
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(Error::NotFound { entity: "channel" })?
            .into(),
        None => channel::ActiveModel {
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.slug = Set(input.slug);
    row.name = Set(name);
    row.parent_id = Set(parent_id);
    row.position = Set(input.position);
    row.save(db)
        .await
        .map_err(unique_slug_clash)?
        .try_into_model()
        .map_err(Error::Database)
}

/// Deletes a channel that holds no articles and no sub-channels.
pub async fn delete_channel<C: ConnectionTrait>(db: &C, id: i64) -> Result<()> {
    let articles = article::Entity::find()
        .filter(article::Column::ChannelId.eq(id))
        .count(db)
        .await?;
    if articles > 0 {
        return Err(Error::Conflict(format!(
            "the channel holds {articles} article(s); move them first"
        )));
    }
    let children = channel::Entity::find()
        .filter(channel::Column::ParentId.eq(id))
        .count(db)
        .await?;
    if children > 0 {
        return Err(Error::Conflict(format!(
            "the channel has {children} sub-channel(s); move them first"
        )));
    }
    let gone = channel::Entity::delete_by_id(id)
        .exec(db)
        .await
        .map_err(still_used)?;
    if gone.rows_affected == 0 {
        return Err(Error::NotFound { entity: "channel" });
    }
    Ok(())
}

/// A page as an editor writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInput {
    /// Unique slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Body, stored as given.
    pub body: String,
    /// What the body is written in.
    pub body_format: BodyFormat,
    /// Linked from the footer.
    pub in_footer: bool,
    /// Order among footer links.
    pub position: i32,
}

/// Checks a page; returns it with its title trimmed.
pub(crate) fn check_page(input: PageInput) -> Result<PageInput> {
    checks::slug("slug", &input.slug, 64)?;
    let title = checks::required_text("title", &input.title, 200)?;
    // PostgreSQL cannot store NUL, and no control character belongs in a page.
    checks::no_control("body", &input.body)?;
    if input.body.len() > 1_000_000 {
        return Err(Error::validation("body", "must be at most 1000000 bytes"));
    }
    Ok(PageInput { title, ..input })
}

/// Creates a page, or replaces every field of the page `id`.
pub async fn save_page<C: ConnectionTrait>(
    db: &C,
    id: Option<i64>,
    input: PageInput,
    now: DateTime<Utc>,
) -> Result<page::Model> {
    let input = check_page(input)?;
    let mut row = match id {
        Some(id) => page::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or(Error::NotFound { entity: "page" })?
            .into(),
        None => page::ActiveModel {
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.slug = Set(input.slug);
    row.title = Set(input.title);
    row.body = Set(input.body);
    row.body_format = Set(input.body_format);
    row.in_footer = Set(input.in_footer);
    row.position = Set(input.position);
    row.updated_at = Set(now);
    row.save(db)
        .await
        .map_err(unique_slug_clash)?
        .try_into_model()
        .map_err(Error::Database)
}

/// Deletes a page.
pub async fn delete_page<C: ConnectionTrait>(db: &C, id: i64) -> Result<()> {
    let gone = page::Entity::delete_by_id(id).exec(db).await?;
    if gone.rows_affected == 0 {
        return Err(Error::NotFound { entity: "page" });
    }
    Ok(())
}

/// Sets site settings; `None` leaves a setting as it is, an empty string clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSettingsPatch {
    /// Site name.
    pub name: Option<String>,
    /// Slogan.
    pub slogan: Option<String>,
    /// Public base URL.
    pub base_url: Option<String>,
    /// ICP filing number.
    pub icp_filing: Option<String>,
    /// Public-security filing number.
    pub public_security_filing: Option<String>,
    /// Default reprint disclaimer.
    pub reprint_disclaimer: Option<String>,
    /// Default sponsored notice.
    pub sponsored_disclaimer: Option<String>,
    /// Default takedown contact.
    pub takedown_contact: Option<String>,
}

/// The settings an editor can set: key, the field the API names it by, the most characters.
const SETTINGS: [(&str, &str, usize); 8] = [
    (keys::NAME, "name", 100),
    (keys::SLOGAN, "slogan", 300),
    (keys::BASE_URL, "baseUrl", 2000),
    (keys::ICP_FILING, "icpFiling", 100),
    (keys::PUBLIC_SECURITY_FILING, "publicSecurityFiling", 100),
    (keys::REPRINT_DISCLAIMER, "reprintDisclaimer", 2000),
    (keys::SPONSORED_DISCLAIMER, "sponsoredDisclaimer", 2000),
    (keys::TAKEDOWN_CONTACT, "takedownContact", 200),
];

/// Checks the value of the setting `key`; errors name `field`. Returns the value trimmed.
/// A key the site does not know (another version's) only has to be free of control characters.
pub(crate) fn check_setting(key: &str, field: &str, value: &str) -> Result<String> {
    checks::no_control(field, value)?;
    let value = value.trim().to_owned();
    let Some(&(_, _, max)) = SETTINGS.iter().find(|(k, _, _)| *k == key) else {
        return Ok(value);
    };
    checks::max_chars(field, &value, max)?;
    if key == keys::NAME && value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if key == keys::BASE_URL && !value.is_empty() {
        checks::url(field, &value)?;
    }
    Ok(value)
}

/// Writes the given settings in one statement each (upserts), after checking all of them.
pub async fn update_site_settings<C: ConnectionTrait>(
    db: &C,
    patch: SiteSettingsPatch,
    now: DateTime<Utc>,
) -> Result<()> {
    let values = [
        patch.name,
        patch.slogan,
        patch.base_url,
        patch.icp_filing,
        patch.public_security_filing,
        patch.reprint_disclaimer,
        patch.sponsored_disclaimer,
        patch.takedown_contact,
    ];
    let mut rows = Vec::new();
    for ((key, field, _), value) in SETTINGS.into_iter().zip(values) {
        let Some(value) = value else { continue };
        rows.push(site_setting::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(check_setting(key, field, &value)?),
            updated_at: Set(now),
        });
    }
    if rows.is_empty() {
        return Ok(());
    }
    // One statement: the settings change together or not at all.
    site_setting::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(site_setting::Column::Key)
                .update_columns([site_setting::Column::Value, site_setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
