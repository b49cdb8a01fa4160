//! Per-article view totals for the DAY, WEEK and MONTH rankings, kept up to date as views are
//! flushed and as time moves on, so that a ranking reads the top of an index instead of summing
//! hundreds of thousands of buckets.
//!
//! `view_windows` holds one row a window: its length in hours and the first hour its totals
//! count (`NULL` until the totals are first built from the buckets). The invariant the domain
//! keeps: a row of `article_view_windows` equals the sum of the article's buckets whose
//! `bucket_hour` is at or after its window's `first_hour`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ViewWindows::Table)
                    .col(small_integer(ViewWindows::Hours).primary_key())
                    .col(big_integer_null(ViewWindows::FirstHour))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("INSERT INTO view_windows (hours) VALUES (24), (168), (720)")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ArticleViewWindows::Table)
                    .col(small_integer(ArticleViewWindows::Hours))
                    .col(big_integer(ArticleViewWindows::ArticleId))
                    .col(big_integer(ArticleViewWindows::Views))
                    .primary_key(
                        Index::create()
                            .col(ArticleViewWindows::Hours)
                            .col(ArticleViewWindows::ArticleId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_view_windows_window")
                            .from(ArticleViewWindows::Table, ArticleViewWindows::Hours)
                            .to(ViewWindows::Table, ViewWindows::Hours)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_view_windows_article")
                            .from(ArticleViewWindows::Table, ArticleViewWindows::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A ranking reads one window's rows, most views first.
        manager
            .create_index(
                Index::create()
                    .name("idx_article_view_windows_rank")
                    .table(ArticleViewWindows::Table)
                    .col(ArticleViewWindows::Hours)
                    .col(ArticleViewWindows::Views)
                    .col(ArticleViewWindows::ArticleId)
                    .to_owned(),
            )
            .await?;
        // Cascading deletes of an article look its rows up by article.
        manager
            .create_index(
                Index::create()
                    .name("idx_article_view_windows_article")
                    .table(ArticleViewWindows::Table)
                    .col(ArticleViewWindows::ArticleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArticleViewWindows::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ViewWindows::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ViewWindows {
    Table,
    Hours,
    FirstHour,
}

#[derive(DeriveIden)]
enum ArticleViewWindows {
    Table,
    Hours,
    ArticleId,
    Views,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
}
