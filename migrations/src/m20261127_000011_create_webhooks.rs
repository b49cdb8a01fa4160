//! Webhooks for partners: the endpoints they register, the events read off the article change log
//! (`article_changes`, the outbox every article write already fills in its own transaction), each
//! endpoint's place in those events, and the log of delivery attempts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(big_pk_auto(WebhookEndpoints::Id))
                    .col(big_integer(WebhookEndpoints::UserId))
                    .col(string_len(WebhookEndpoints::Url, 2000))
                    .col(string_len_null(WebhookEndpoints::Description, 200))
                    .col(string_len(WebhookEndpoints::Secret, 100))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    // The last event this endpoint is done with (delivered, or given up on).
                    .col(big_integer(WebhookEndpoints::AfterEvent).default(0))
                    // Attempts so far at the next event, and failed attempts in a row.
                    .col(integer(WebhookEndpoints::Attempts).default(0))
                    .col(integer(WebhookEndpoints::Failures).default(0))
                    .col(timestamp_with_time_zone(WebhookEndpoints::NextAttemptAt))
                    // Which server process is delivering to it, and until when at most.
                    .col(string_len_null(WebhookEndpoints::ClaimedBy, 64))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::ClaimedUntil,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_endpoints_user")
                            .from(WebhookEndpoints::Table, WebhookEndpoints::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoints_user_url")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::UserId)
                    .col(WebhookEndpoints::Url)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(big_pk_auto(WebhookEvents::Id))
                    .col(string_len(WebhookEvents::Uid, 36).unique_key())
                    .col(string_len(WebhookEvents::Kind, 16).check(
                        Expr::col(WebhookEvents::Kind).is_in(["published", "updated", "removed"]),
                    ))
                    // No foreign key: a removal outlives its article.
                    .col(big_integer(WebhookEvents::ArticleId))
                    .col(string_len(WebhookEvents::Slug, 200))
                    .col(timestamp_with_time_zone(WebhookEvents::OccurredAt))
                    .col(timestamp_with_time_zone(WebhookEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(big_pk_auto(WebhookAttempts::Id))
                    .col(big_integer(WebhookAttempts::EndpointId))
                    .col(big_integer(WebhookAttempts::EventId))
                    .col(integer(WebhookAttempts::Attempt))
                    .col(string_len(WebhookAttempts::Outcome, 16).check(
                        Expr::col(WebhookAttempts::Outcome).is_in([
                            "delivered",
                            "retrying",
                            "failed",
                            "withheld",
                        ]),
                    ))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(string_len_null(WebhookAttempts::Error, 500))
                    .col(integer_null(WebhookAttempts::DurationMs))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookAttempts::NextAttemptAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_endpoint")
                            .from(WebhookAttempts::Table, WebhookAttempts::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_event")
                            .from(WebhookAttempts::Table, WebhookAttempts::EventId)
                            .to(WebhookEvents::Table, WebhookEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The delivery log is read newest first: everyone's (editors) and one endpoint's.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_order")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::AttemptedAt)
                    .col(WebhookAttempts::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_endpoint_order")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::EndpointId)
                    .col(WebhookAttempts::AttemptedAt)
                    .col(WebhookAttempts::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_event")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::EventId)
                    .to_owned(),
            )
            .await?;
        // Where events have been read up to in the change log: one row, starting at the start.
        manager
            .create_table(
                Table::create()
                    .table(WebhookDispatch::Table)
                    .col(integer(WebhookDispatch::Id).primary_key())
                    .col(timestamp_with_time_zone_null(WebhookDispatch::AfterAt))
                    .col(big_integer_null(WebhookDispatch::AfterSeq))
                    .to_owned(),
            )
            .await?;
        let mut start = Query::insert();
        start
            .into_table(WebhookDispatch::Table)
            .columns([WebhookDispatch::Id])
            .values([1.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        manager.exec_stmt(start).await?;
        // The articles partners have been told of (published and not removed since).
        manager
            .create_table(
                Table::create()
                    .table(WebhookPartnerArticles::Table)
                    .col(big_integer(WebhookPartnerArticles::ArticleId).primary_key())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
            WebhookDispatch::Table.into_iden(),
            WebhookPartnerArticles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    UserId,
    Url,
    Description,
    Secret,
    CreatedAt,
    AfterEvent,
    Attempts,
    Failures,
    NextAttemptAt,
    ClaimedBy,
    ClaimedUntil,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    Uid,
    Kind,
    ArticleId,
    Slug,
    OccurredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    EndpointId,
    EventId,
    Attempt,
    Outcome,
    StatusCode,
    Error,
    DurationMs,
    AttemptedAt,
    NextAttemptAt,
}

#[derive(DeriveIden)]
enum WebhookDispatch {
    Table,
    Id,
    AfterAt,
    AfterSeq,
}

#[derive(DeriveIden)]
enum WebhookPartnerArticles {
    Table,
    ArticleId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
