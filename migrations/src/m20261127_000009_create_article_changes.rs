//! The article change log behind `GET /api/v1/changes`: one row each time an article enters or
//! leaves what readers see, written in the same transaction as the article. Rows outlive their
//! article (no foreign key), so a deletion is still told as a tombstone.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ArticleChanges::Table)
                    .col(big_pk_auto(ArticleChanges::Seq))
                    .col(big_integer(ArticleChanges::ArticleId))
                    .col(string_len(ArticleChanges::Slug, 200))
                    .col(
                        string_len(ArticleChanges::Change, 16)
                            .check(Expr::col(ArticleChanges::Change).is_in(["upsert", "remove"])),
                    )
                    .col(timestamp_with_time_zone(ArticleChanges::VisibleFrom))
                    .to_owned(),
            )
            .await?;
        // The feed reads in (visible_from, seq) order from a cursor.
        manager
            .create_index(
                Index::create()
                    .name("idx_article_changes_order")
                    .table(ArticleChanges::Table)
                    .col(ArticleChanges::VisibleFrom)
                    .col(ArticleChanges::Seq)
                    .to_owned(),
            )
            .await?;
        // What readers already see (or will, at its time) starts the log.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO article_changes (article_id, slug, change, visible_from) \
     SELECT a.id, a.slug, 'upsert', a.published_at FROM articles a \
     WHERE a.status IN ('published', 'scheduled') AND a.published_at IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM article_changes c WHERE c.article_id = a.id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArticleChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ArticleChanges {
    Table,
    Seq,
    ArticleId,
    Slug,
    Change,
    VisibleFrom,
}
