//! The full-text index of what readers can find: one row per published or scheduled article,
//! holding its words as the domain's Chinese segmenter cut them (this crate cannot segment; the
//! domain writes the rows in the same transaction as the article, and `newsroom reindex` fills
//! the index for articles written before it existed).
//!
//! Each backend keeps two things per article: every word it contains, to decide whether it
//! matches (all of a query's words, anywhere), and a short ranking record, to decide how well:
//! the words of the title, the lead, the tags, the source name and the body's most repeated
//! words, each field with its own weight. Keeping the ranking record short keeps ranking cheap
//! however long a body is, and keeps a long body from drowning a title.
//!
//! SQLite: two FTS5 tables whose rowid is the article id: `article_search` (one column of words,
//! matching only, so no positions) and `article_search_rank` (a column per field, for `bm25`).
//! Both are contentless (the text lives in `articles`) and use the `ascii` tokenizer, which splits
//! only at the spaces the domain writes between words and takes every other character as part of
//! a word. A trigger removes a deleted article's rows, as the foreign key does on PostgreSQL.
//!
//! PostgreSQL: one table, `document` (every word, no positions) with a GIN index for matching,
//! `headline` (the ranking record, weights A to D by field) for `ts_rank`.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE article_search USING fts5(\
                       words, content = '', contentless_delete = 1, detail = none, \
                       tokenize = 'ascii')",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE article_search_rank USING fts5(\
                       title, lead, tags, source, keywords, \
                       content = '', contentless_delete = 1, tokenize = 'ascii')",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER article_search_forget AFTER DELETE ON articles BEGIN \
                       DELETE FROM article_search WHERE rowid = old.id; \
                       DELETE FROM article_search_rank WHERE rowid = old.id; \
                     END",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TABLE article_search (\
                       article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE, \
                       headline TSVECTOR NOT NULL, \
                       document TSVECTOR NOT NULL)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_article_search_document ON article_search USING GIN (document)",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared("DROP TRIGGER article_search_forget")
                .await?;
            db.execute_unprepared("DROP TABLE article_search_rank")
                .await?;
        }
        db.execute_unprepared("DROP TABLE article_search").await?;
        Ok(())
    }
}
