//! Tells every server process when content changes, so each can empty its response cache: on
//! PostgreSQL, triggers on the tables readers' answers are made of `NOTIFY newsroom_content`.
//! A notification is delivered when the writing transaction commits (and never when it rolls
//! back), whoever wrote: a server, the CLI, or SQL typed by hand.
//!
//! Statement-level triggers, so a bulk write notifies once. On `articles` an update that changes
//! the view count is left out: that is the view counter flushing every few seconds (no editorial
//! write touches the view count), and cached answers that show view counts have a short life of
//! their own.
//!
//! SQLite has no notifications; a process learns of its own writes directly, which is what a
//! single-file database serves.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose every write may change what a reader or partner sees.
const TABLES: &[&str] = &[
    "channels",
    "sources",
    "tags",
    "article_tags",
    "site_settings",
    "pages",
    "article_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE FUNCTION newsroom_notify_content() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_notify('newsroom_content', ''); RETURN NULL; END $$",
        )
        .await?;
        for table in TABLES {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_notify_content \
                 AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION newsroom_notify_content()"
            ))
            .await?;
        }
        db.execute_unprepared(
            "CREATE TRIGGER articles_notify_content \
             AFTER INSERT OR DELETE OR TRUNCATE ON articles \
             FOR EACH STATEMENT EXECUTE FUNCTION newsroom_notify_content()",
        )
        .await?;
        // A row trigger, to tell a view-count flush from an edit; PostgreSQL folds the identical
        // notifications of one transaction into one.
        db.execute_unprepared(
            "CREATE TRIGGER articles_notify_edit AFTER UPDATE ON articles FOR EACH ROW \
             WHEN (OLD.view_count IS NOT DISTINCT FROM NEW.view_count) \
             EXECUTE FUNCTION newsroom_notify_content()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS articles_notify_edit ON articles")
            .await?;
        db.execute_unprepared("DROP TRIGGER IF EXISTS articles_notify_content ON articles")
            .await?;
        for table in TABLES {
            db.execute_unprepared(&format!(
                "DROP TRIGGER IF EXISTS {table}_notify_content ON {table}"
            ))
            .await?;
        }
        db.execute_unprepared("DROP FUNCTION IF EXISTS newsroom_notify_content()")
            .await?;
        Ok(())
    }
}
