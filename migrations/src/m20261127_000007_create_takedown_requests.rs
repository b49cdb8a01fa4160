//! Takedown requests: a rights holder asks for an article's removal; an editor accepts (the
//! article is taken down in the same transaction) or rejects it, and who did so is recorded.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TakedownRequests::Table)
                    .col(big_pk_auto(TakedownRequests::Id))
                    .col(big_integer(TakedownRequests::ArticleId))
                    .col(string_len(TakedownRequests::Claimant, 200))
                    .col(string_len(TakedownRequests::Contact, 200))
                    .col(text(TakedownRequests::Reason))
                    .col(
                        string_len(TakedownRequests::Status, 16).check(
                            Expr::col(TakedownRequests::Status)
                                .is_in(["pending", "accepted", "rejected"]),
                        ),
                    )
                    .col(timestamp_with_time_zone(TakedownRequests::CreatedAt))
                    .col(big_integer_null(TakedownRequests::ResolvedBy))
                    .col(timestamp_with_time_zone_null(TakedownRequests::ResolvedAt))
                    .col(text_null(TakedownRequests::Note))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_takedown_requests_article")
                            .from(TakedownRequests::Table, TakedownRequests::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_takedown_requests_resolved_by")
                            .from(TakedownRequests::Table, TakedownRequests::ResolvedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // Editors list requests by status, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_takedown_requests_status_created")
                    .table(TakedownRequests::Table)
                    .col(TakedownRequests::Status)
                    .col(TakedownRequests::CreatedAt)
                    .col(TakedownRequests::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_takedown_requests_article")
                    .table(TakedownRequests::Table)
                    .col(TakedownRequests::ArticleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TakedownRequests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TakedownRequests {
    Table,
    Id,
    ArticleId,
    Claimant,
    Contact,
    Reason,
    Status,
    CreatedAt,
    ResolvedBy,
    ResolvedAt,
    Note,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
