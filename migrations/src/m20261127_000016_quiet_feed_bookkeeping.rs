//! Feed ingest no longer empties every server's response cache. Migration 000015 notified on
//! every statement that touched `sources` or inserted into `articles`, and ingest writes both on
//! every attempt: it claims a source and records the outcome in its `feed_*` columns (editors
//! only), and inserts drafts (no reader sees one). With two hundred sources that emptied every
//! cache several times a minute for nothing.
//!
//! Now an update of `sources` notifies only when a column readers or partners see changed, and an
//! inserted article only when it is not a draft. Row triggers, so a statement that changes no
//! row (another process's claim that lost the race) notifies nothing; PostgreSQL folds the
//! identical notifications of one transaction into one.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns of `sources` that reach a public answer (a source, or an article's source and
/// disclaimer).
const PUBLIC_SOURCE_COLUMNS: &[&str] = &[
    "slug",
    "name",
    "homepage",
    "feed_url",
    "license",
    "syndication_allowed",
    "disclaimer",
    "takedown_contact",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        let row = |prefix: &str| {
            PUBLIC_SOURCE_COLUMNS
                .iter()
                .map(|c| format!("{prefix}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for sql in [
            "DROP TRIGGER sources_notify_content ON sources".to_owned(),
            "CREATE TRIGGER sources_notify_content \
             AFTER INSERT OR DELETE OR TRUNCATE ON sources \
             FOR EACH STATEMENT EXECUTE FUNCTION newsroom_notify_content()"
                .to_owned(),
            format!(
                "CREATE TRIGGER sources_notify_edit AFTER UPDATE ON sources FOR EACH ROW \
                 WHEN (({}) IS DISTINCT FROM ({})) \
                 EXECUTE FUNCTION newsroom_notify_content()",
                row("OLD"),
                row("NEW")
            ),
            "DROP TRIGGER articles_notify_content ON articles".to_owned(),
            "CREATE TRIGGER articles_notify_content \
             AFTER DELETE OR TRUNCATE ON articles \
             FOR EACH STATEMENT EXECUTE FUNCTION newsroom_notify_content()"
                .to_owned(),
            "CREATE TRIGGER articles_notify_insert AFTER INSERT ON articles FOR EACH ROW \
             WHEN (NEW.status <> 'draft') EXECUTE FUNCTION newsroom_notify_content()"
                .to_owned(),
        ] {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "DROP TRIGGER IF EXISTS sources_notify_edit ON sources",
            "DROP TRIGGER IF EXISTS sources_notify_content ON sources",
            "CREATE TRIGGER sources_notify_content \
             AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sources \
             FOR EACH STATEMENT EXECUTE FUNCTION newsroom_notify_content()",
            "DROP TRIGGER IF EXISTS articles_notify_insert ON articles",
            "DROP TRIGGER IF EXISTS articles_notify_content ON articles",
            "CREATE TRIGGER articles_notify_content \
             AFTER INSERT OR DELETE OR TRUNCATE ON articles \
             FOR EACH STATEMENT EXECUTE FUNCTION newsroom_notify_content()",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
