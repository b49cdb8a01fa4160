//! The read side of the portal: channels, sources, tags, articles and their tags, site settings and
//! pages, with the indexes every reader-facing list query needs.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statuses under which an article can be visible to readers (once its publish time passed).
/// Kept as a literal in the partial indexes below: a query must repeat it verbatim for the planner
/// to use them, which `newsroom_domain::visibility` does.
const VISIBLE: &str = "status IN ('published', 'scheduled')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Channels::Table)
                    .col(big_pk_auto(Channels::Id))
                    .col(string_len_uniq(Channels::Slug, 64))
                    .col(string_len(Channels::Name, 100))
                    .col(big_integer_null(Channels::ParentId))
                    .col(integer(Channels::Position).default(0))
                    .col(timestamp_with_time_zone(Channels::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_channels_parent")
                            .from(Channels::Table, Channels::ParentId)
                            .to(Channels::Table, Channels::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_channels_parent_position")
                    .table(Channels::Table)
                    .col(Channels::ParentId)
                    .col(Channels::Position)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sources::Table)
                    .col(big_pk_auto(Sources::Id))
                    .col(string_len_uniq(Sources::Slug, 64))
                    .col(string_len(Sources::Name, 200))
                    .col(string_len_null(Sources::Homepage, 2000))
                    .col(string_len_null(Sources::FeedUrl, 2000))
                    .col(
                        string_len(Sources::License, 32).check(Expr::col(Sources::License).is_in(
                            [
                                "own",
                                "all_rights_reserved",
                                "permission_granted",
                                "cc_by",
                                "cc_by_sa",
                                "public_domain",
                            ],
                        )),
                    )
                    .col(boolean(Sources::SyndicationAllowed).default(false))
                    .col(text_null(Sources::Disclaimer))
                    .col(string_len_null(Sources::TakedownContact, 200))
                    .col(timestamp_with_time_zone(Sources::CreatedAt))
                    .col(timestamp_with_time_zone(Sources::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(big_pk_auto(Tags::Id))
                    .col(string_len_uniq(Tags::Slug, 64))
                    .col(string_len(Tags::Name, 64))
                    .col(timestamp_with_time_zone(Tags::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Articles::Table)
                    .col(big_pk_auto(Articles::Id))
                    .col(string_len_uniq(Articles::Slug, 200))
                    .col(string_len(Articles::Title, 300))
                    .col(text_null(Articles::Lead))
                    .col(text(Articles::Body))
                    .col(
                        string_len(Articles::BodyFormat, 16)
                            .default("markdown")
                            .check(Expr::col(Articles::BodyFormat).is_in(["markdown", "html"])),
                    )
                    .col(string_len_null(Articles::CoverImage, 2000))
                    .col(string_len_null(Articles::Author, 100))
                    .col(big_integer(Articles::ChannelId))
                    .col(big_integer_null(Articles::SourceId))
                    .col(string_len_null(Articles::OriginalUrl, 2000))
                    .col(
                        string_len(Articles::Kind, 16).check(Expr::col(Articles::Kind).is_in([
                            "original",
                            "reprint",
                            "sponsored",
                        ])),
                    )
                    .col(string_len(Articles::Status, 16).check(
                        Expr::col(Articles::Status).is_in([
                            "draft",
                            "scheduled",
                            "published",
                            "archived",
                            "taken_down",
                        ]),
                    ))
                    .col(timestamp_with_time_zone_null(Articles::PublishedAt))
                    .col(boolean(Articles::Featured).default(false))
                    .col(boolean(Articles::Recommended).default(false))
                    .col(text_null(Articles::Disclaimer))
                    .col(big_integer(Articles::ViewCount).default(0))
                    .col(integer(Articles::Version).default(1))
                    .col(timestamp_with_time_zone(Articles::CreatedAt))
                    .col(timestamp_with_time_zone(Articles::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_articles_channel")
                            .from(Articles::Table, Articles::ChannelId)
                            .to(Channels::Table, Channels::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_articles_source")
                            .from(Articles::Table, Articles::SourceId)
                            .to(Sources::Table, Sources::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ArticleTags::Table)
                    .col(big_integer(ArticleTags::ArticleId))
                    .col(big_integer(ArticleTags::TagId))
                    .col(integer(ArticleTags::Position).default(0))
                    .primary_key(
                        Index::create()
                            .col(ArticleTags::ArticleId)
                            .col(ArticleTags::TagId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_tags_article")
                            .from(ArticleTags::Table, ArticleTags::ArticleId)
                            .to(Articles::Table, Articles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_article_tags_tag")
                            .from(ArticleTags::Table, ArticleTags::TagId)
                            .to(Tags::Table, Tags::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SiteSettings::Table)
                    .col(string_len(SiteSettings::Key, 64).primary_key())
                    .col(text(SiteSettings::Value))
                    .col(timestamp_with_time_zone(SiteSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Pages::Table)
                    .col(big_pk_auto(Pages::Id))
                    .col(string_len_uniq(Pages::Slug, 64))
                    .col(string_len(Pages::Title, 200))
                    .col(text(Pages::Body))
                    .col(
                        string_len(Pages::BodyFormat, 16)
                            .default("markdown")
                            .check(Expr::col(Pages::BodyFormat).is_in(["markdown", "html"])),
                    )
                    .col(boolean(Pages::InFooter).default(false))
                    .col(integer(Pages::Position).default(0))
                    .col(timestamp_with_time_zone(Pages::CreatedAt))
                    .col(timestamp_with_time_zone(Pages::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // Plain indexes: foreign-key checks on delete, and the tag -> articles direction.
        for (name, table, cols) in [
            ("idx_articles_channel_id", "articles", "channel_id"),
            ("idx_articles_source_id", "articles", "source_id"),
            ("idx_article_tags_tag", "article_tags", "tag_id, article_id"),
            ("idx_pages_footer", "pages", "in_footer, position"),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!("CREATE INDEX {name} ON {table} ({cols})"))
                .await?;
        }

        // Partial indexes over visible articles only, in the keyset order every reader list uses
        // (published_at, id), each led by the column its filter fixes. sea-query cannot express a
        // partial index, and this SQL is the same on SQLite and PostgreSQL.
        for (name, lead) in [
            ("idx_articles_visible_published", ""),
            ("idx_articles_visible_channel", "channel_id, "),
            ("idx_articles_visible_source", "source_id, "),
            ("idx_articles_visible_kind", "kind, "),
            ("idx_articles_visible_featured", "featured, "),
            ("idx_articles_visible_recommended", "recommended, "),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {name} ON articles ({lead}published_at, id) WHERE {VISIBLE}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Pages::Table.into_iden(),
            SiteSettings::Table.into_iden(),
            ArticleTags::Table.into_iden(),
            Articles::Table.into_iden(),
            Tags::Table.into_iden(),
            Sources::Table.into_iden(),
            Channels::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
    Slug,
    Name,
    ParentId,
    Position,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    Slug,
    Name,
    Homepage,
    FeedUrl,
    License,
    SyndicationAllowed,
    Disclaimer,
    TakedownContact,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
    Slug,
    Title,
    Lead,
    Body,
    BodyFormat,
    CoverImage,
    Author,
    ChannelId,
    SourceId,
    OriginalUrl,
    Kind,
    Status,
    PublishedAt,
    Featured,
    Recommended,
    Disclaimer,
    ViewCount,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ArticleTags {
    Table,
    ArticleId,
    TagId,
    Position,
}

#[derive(DeriveIden)]
enum SiteSettings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
    Slug,
    Title,
    Body,
    BodyFormat,
    InFooter,
    Position,
    CreatedAt,
    UpdatedAt,
}
