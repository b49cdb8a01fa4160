//! `articles`: the portal's content, own and reprinted.

use sea_orm::entity::prelude::*;

use super::{ArticleKind, ArticleStatus, BodyFormat};

/// An article row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "articles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    /// The editor's summary (核心提示).
    pub lead: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub body_format: BodyFormat,
    pub cover_image: Option<String>,
    pub author: Option<String>,
    pub channel_id: i64,
    pub source_id: Option<i64>,
    pub original_url: Option<String>,
    pub kind: ArticleKind,
    pub status: ArticleStatus,
    pub published_at: Option<DateTimeUtc>,
    /// 推荐图文: shown with its cover image.
    pub featured: bool,
    /// 推荐资讯: shown as a text link.
    pub recommended: bool,
    /// Overrides the source's and the site's disclaimer.
    pub disclaimer: Option<String>,
    pub view_count: i64,
    /// Optimistic-concurrency version, bumped by every saved edit.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When a reprint was first published by its source (taken from its feed).
    pub original_published_at: Option<DateTimeUtc>,
}

/// The rows an article names, for reading them with it in one statement
/// ([`crate::articles::with_catalog`]).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::channel::Entity",
        from = "Column::ChannelId",
        to = "super::channel::Column::Id"
    )]
    Channel,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id"
    )]
    Source,
}

impl Related<super::channel::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Channel.def()
    }
}

impl Related<super::source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Source.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
