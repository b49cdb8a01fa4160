//! `persisted_operations`: a registered GraphQL operation, by the SHA-256 of its text.

use sea_orm::entity::prelude::*;

/// A registered operation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_operations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lowercase hex SHA-256 of `query`, as clients send it in `extensions.persistedQuery`.
    #[sea_orm(unique)]
    pub sha256: String,
    /// The operation's name, when the document has one, for people reading the list.
    pub name: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub query: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
