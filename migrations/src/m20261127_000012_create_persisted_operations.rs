//! Registered GraphQL operations: the allow-list a public deployment may restrict itself to
//! (`NEWSROOM_GRAPHQL_ALLOW_LIST`), keyed by the SHA-256 of the query text, as automatic
//! persisted queries name them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersistedOperations::Table)
                    .col(big_pk_auto(PersistedOperations::Id))
                    .col(string_len_uniq(PersistedOperations::Sha256, 64))
                    .col(string_len_null(PersistedOperations::Name, 200))
                    .col(text(PersistedOperations::Query))
                    .col(timestamp_with_time_zone(PersistedOperations::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PersistedOperations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PersistedOperations {
    Table,
    Id,
    Sha256,
    Name,
    Query,
    CreatedAt,
}
