//! PostgreSQL only: each article-tag link carries its article's publish time while the article is
//! in a reader-visible status (NULL otherwise), with an index by tag in that order. An article
//! page's related articles take, for each of the page's tags, the newest ten linked articles from
//! that index: fifty index entries for five tags. Before, they gathered every article sharing a
//! tag (about 1,250 of 100,000 with five tags of 250 articles each) to keep the newest ten, and
//! that one statement was five sixths of the article page's database time (pgbench, article
//! page's SQL, 32 clients on 2 cores: 325-430 pages a second, 1,270-1,420 after).
//!
//! Triggers keep the copy: a link takes its article's time when written, and an article's links
//! follow it when its status or publish time changes, whoever writes (a server, the CLI, SQL by
//! hand), and a link's copy written by hand is put right. Readers never depend on the copy for
//! what they may see: the query still checks each candidate's own row, so a stale copy could
//! leave an article out or misplace it, never show a hidden one.
//!
//! SQLite keeps the query that reads each candidate: a single-file site holds far fewer articles,
//! and SQLite has no LATERAL join to take ten from each tag.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The reader-visible statuses, as in the partial indexes over `articles`.
const VISIBLE: &str = "status IN ('published', 'scheduled')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE article_tags ADD COLUMN published_at timestamptz")
            .await?;
        db.execute_unprepared(&format!(
            "UPDATE article_tags SET published_at = articles.published_at FROM articles \
             WHERE articles.id = article_tags.article_id AND articles.{VISIBLE}"
        ))
        .await?;
        // A new link reads its article's row under a share lock: an edit of the article's status
        // committed meanwhile is waited for and seen, and one that comes later waits for this
        // link, then updates it with the rest.
        db.execute_unprepared(&format!(
            "CREATE FUNCTION newsroom_tag_link_time() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               SELECT CASE WHEN articles.{VISIBLE} THEN articles.published_at END \
                 INTO NEW.published_at FROM articles WHERE articles.id = NEW.article_id FOR SHARE; \
               RETURN NEW; \
             END $$"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER article_tags_time \
             BEFORE INSERT OR UPDATE OF article_id, published_at \
             ON article_tags FOR EACH ROW EXECUTE FUNCTION newsroom_tag_link_time()",
        )
        .await?;
        db.execute_unprepared(&format!(
            "CREATE FUNCTION newsroom_article_time_to_tags() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               UPDATE article_tags \
                 SET published_at = CASE WHEN NEW.{VISIBLE} THEN NEW.published_at END \
                 WHERE article_id = NEW.id; \
               RETURN NULL; \
             END $$"
        ))
        .await?;
        // Only a change of either column: an editor's save writes every column, and the view
        // counter's flush writes none of these.
        db.execute_unprepared(
            "CREATE TRIGGER articles_time_to_tags AFTER UPDATE OF status, published_at \
             ON articles FOR EACH ROW \
             WHEN (OLD.status IS DISTINCT FROM NEW.status \
                   OR OLD.published_at IS DISTINCT FROM NEW.published_at) \
             EXECUTE FUNCTION newsroom_article_time_to_tags()",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_article_tags_listed \
             ON article_tags (tag_id, published_at DESC, article_id DESC) \
             WHERE published_at IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for statement in [
            "DROP TRIGGER IF EXISTS articles_time_to_tags ON articles",
            "DROP TRIGGER IF EXISTS article_tags_time ON article_tags",
            "DROP FUNCTION IF EXISTS newsroom_article_time_to_tags()",
            "DROP FUNCTION IF EXISTS newsroom_tag_link_time()",
            "DROP INDEX IF EXISTS idx_article_tags_listed",
            "ALTER TABLE article_tags DROP COLUMN IF EXISTS published_at",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
