//! Views per article and hour (`span` 1) or day (`span` 24), keyed by the hour number since the
//! epoch: integer arithmetic that is the same on SQLite and PostgreSQL, and a compact index.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ArticleViewBuckets::Table)
                    .col(big_integer(ArticleViewBuckets::ArticleId))
                    .col(
                        small_integer(ArticleViewBuckets::Span)
                            .check(Expr::col(ArticleViewBuckets::Span).is_in([1, 24])),
                    )
                    .col(big_integer(ArticleViewBuckets::BucketHour))
                    .col(big_integer(ArticleViewBuckets::Views))
                    .primary_key(
                        Index::create()
                            .col(ArticleViewBuckets::ArticleId)
                            .col(ArticleViewBuckets::Span)
                            .col(ArticleViewBuckets::BucketHour),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_view_buckets_article")
                            .from(ArticleViewBuckets::Table, ArticleViewBuckets::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Rankings sum a window of hours for every article: led by the hour, covering the rest.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_article_view_buckets_window ON article_view_buckets (bucket_hour, article_id, views)",
            )
            .await?;
        // The all-time ranking orders visible articles by their total.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_articles_visible_views ON articles (view_count, published_at, id) \
                 WHERE status IN ('published', 'scheduled')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_articles_visible_views")
            .await?;
        manager
            .drop_table(Table::drop().table(ArticleViewBuckets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ArticleViewBuckets {
    Table,
    ArticleId,
    Span,
    BucketHour,
    Views,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
}
