//! PostgreSQL: the ranking record becomes postings, one row per (article, word of its ranking
//! record) holding that word's score in the article, so a search reads the best hits in order off
//! a B-tree and stops at the page instead of scoring every article that contains a common word.
//!
//! The score is what `ts_rank` gave the word against the old `headline` vector, so ranking does
//! not change; existing rows are converted here from `headline`, which is then dropped. Only words
//! the article's `document` also holds get a posting: another word never matches the article, so
//! its score could never count. SQLite keeps its FTS5 ranking table and needs nothing.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE search_postings (\
               article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE, \
               word TEXT NOT NULL, \
               score DOUBLE PRECISION NOT NULL, \
               published_at TIMESTAMPTZ NOT NULL, \
               PRIMARY KEY (article_id, word))",
        )
        .await?;
        // The order of a one-word search: best score, then newest, then highest id.
        db.execute_unprepared(
            "CREATE INDEX idx_search_postings_rank ON search_postings \
               (word, score DESC, published_at DESC, article_id DESC)",
        )
        .await?;
        // The word as a quoted tsquery lexeme, as the domain writes it: nothing in it is syntax.
        db.execute_unprepared(
            "INSERT INTO search_postings (article_id, word, score, published_at) \
             SELECT s.article_id, u.lexeme, \
                    ts_rank('{0.1, 0.2, 0.4, 1.0}', s.headline, q.word), \
                    COALESCE(a.published_at, a.created_at) \
             FROM article_search s \
             JOIN articles a ON a.id = s.article_id \
             CROSS JOIN LATERAL unnest(s.headline) u \
             CROSS JOIN LATERAL (SELECT CAST('''' || replace(replace(u.lexeme, '\\', '\\\\'), \
                                   '''', '''''') || '''' AS tsquery) AS word) q \
             WHERE s.document @@ q.word",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE article_search DROP COLUMN headline")
            .await?;
        // Without the headline the heap held only pointers to toasted documents, so a scan of it
        // looked cheap to the planner, which then chose it over the GIN index for several words
        // and detoasted every document (measured: 1.9 s against 11 ms for 153 matches). Kept
        // compressed in the heap, documents cost what they weigh.
        db.execute_unprepared("ALTER TABLE article_search ALTER COLUMN document SET STORAGE MAIN")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // The headline cannot be rebuilt from scores: empty the index, which the server then
        // rebuilds from the articles at start (`needs_rebuild`).
        db.execute_unprepared("DELETE FROM article_search").await?;
        db.execute_unprepared(
            "ALTER TABLE article_search ADD COLUMN headline TSVECTOR NOT NULL DEFAULT ''",
        )
        .await?;
        db.execute_unprepared("DROP TABLE search_postings").await?;
        Ok(())
    }
}
