//! Ingest from sources' feeds: the channel a source's feed items are filed in, where its feed
//! stands (last attempt, failures in a row, the last error, when it is tried next), the original
//! publish time of an article, and the ledger of feed items already taken in.
//!
//! The ledger (`feed_items`) is what de-duplicates: its unique index on the item's URL makes a
//! second ingest of the same item impossible, even from two processes at once, and its rows
//! outlive the draft (`article_id` becomes NULL), so a draft an editor deleted is not taken in
//! again. The URL is stored in its normalised (WHATWG, ASCII) form, so it fits a B-tree key on
//! PostgreSQL whatever script the original link was written in.
//!
//! `articles.original_url` gets an index so that ingest can also skip items an editor already
//! reprinted by hand (or that arrived by import): a B-tree on SQLite; a hash index on PostgreSQL,
//! whose B-tree keys cannot exceed about 2,700 bytes while an original URL of 2,000 characters of
//! Chinese can.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // sea-query cannot add a column with a foreign key on SQLite; this SQL is the same on both.
        db.execute_unprepared(
            "ALTER TABLE sources ADD COLUMN feed_channel_id BIGINT NULL \
             CONSTRAINT fk_sources_feed_channel REFERENCES channels (id)",
        )
        .await?;
        // SQLite takes one column per ALTER TABLE.
        for column in [
            timestamp_with_time_zone_null(Sources::FeedCheckedAt),
            timestamp_with_time_zone_null(Sources::FeedNextAt),
            integer(Sources::FeedFailures).default(0).to_owned(),
            text_null(Sources::FeedError),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sources::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Articles::Table)
                    .add_column(timestamp_with_time_zone_null(Articles::OriginalPublishedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(FeedItems::Table)
                    .col(big_pk_auto(FeedItems::Id))
                    .col(big_integer(FeedItems::SourceId))
                    .col(string_len_uniq(FeedItems::Url, 2000))
                    .col(big_integer_null(FeedItems::ArticleId))
                    .col(timestamp_with_time_zone(FeedItems::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feed_items_source")
                            .from(FeedItems::Table, FeedItems::SourceId)
                            .to(Sources::Table, Sources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feed_items_article")
                            .from(FeedItems::Table, FeedItems::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // For the foreign keys' checks when a source or an article is deleted.
        for (name, cols) in [
            ("idx_feed_items_source", "source_id"),
            ("idx_feed_items_article", "article_id"),
        ] {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON feed_items ({cols})"))
                .await?;
        }
        let original_url = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "CREATE INDEX idx_articles_original_url ON articles USING HASH (original_url)"
            }
            _ => "CREATE INDEX idx_articles_original_url ON articles (original_url)",
        };
        db.execute_unprepared(original_url).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_articles_original_url")
            .await?;
        manager
            .drop_table(Table::drop().table(FeedItems::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Articles::Table)
                    .drop_column(Articles::OriginalPublishedAt)
                    .to_owned(),
            )
            .await?;
        for column in [
            Sources::FeedError,
            Sources::FeedFailures,
            Sources::FeedNextAt,
            Sources::FeedCheckedAt,
            Sources::FeedChannelId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sources::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    FeedChannelId,
    FeedCheckedAt,
    FeedNextAt,
    FeedFailures,
    FeedError,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
    OriginalPublishedAt,
}

#[derive(DeriveIden)]
enum FeedItems {
    Table,
    Id,
    SourceId,
    Url,
    ArticleId,
    CreatedAt,
}
