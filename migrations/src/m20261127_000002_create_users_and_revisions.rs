//! The write side: users and their API tokens, article revisions, and the login throttle that
//! every server process shares.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 64))
                    .col(string_len(Users::PasswordHash, 200))
                    .col(
                        string_len(Users::Role, 16)
                            .check(Expr::col(Users::Role).is_in(["admin", "editor", "partner"])),
                    )
                    .col(boolean(Users::Disabled).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(string_len_uniq(ApiTokens::Jti, 64))
                    .col(big_integer(ApiTokens::UserId))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(big_integer_null(ApiTokens::IssuedBy))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_user")
                            .from(ApiTokens::Table, ApiTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_issued_by")
                            .from(ApiTokens::Table, ApiTokens::IssuedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_tokens_user")
                    .table(ApiTokens::Table)
                    .col(ApiTokens::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ArticleRevisions::Table)
                    .col(big_pk_auto(ArticleRevisions::Id))
                    .col(big_integer(ArticleRevisions::ArticleId))
                    .col(integer(ArticleRevisions::Version))
                    .col(text(ArticleRevisions::Snapshot))
                    .col(big_integer_null(ArticleRevisions::SavedBy))
                    .col(timestamp_with_time_zone(ArticleRevisions::SavedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_revisions_article")
                            .from(ArticleRevisions::Table, ArticleRevisions::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_revisions_saved_by")
                            .from(ArticleRevisions::Table, ArticleRevisions::SavedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_article_revisions_article_version")
                    .table(ArticleRevisions::Table)
                    .col(ArticleRevisions::ArticleId)
                    .col(ArticleRevisions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(string_len(LoginThrottle::Key, 200).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(timestamp_with_time_zone(LoginThrottle::WindowStartedAt))
                    .to_owned(),
            )
            .await?;

        // Editors list every status; their lists order by (publish time or creation time, id).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_articles_status_updated ON articles (status, updated_at)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_articles_status_updated")
            .await?;
        for table in [
            LoginThrottle::Table.into_iden(),
            ArticleRevisions::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Jti,
    UserId,
    Name,
    IssuedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ArticleRevisions {
    Table,
    Id,
    ArticleId,
    Version,
    Snapshot,
    SavedBy,
    SavedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    WindowStartedAt,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
}
