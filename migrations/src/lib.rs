//! Database migrations for Newsroom.
//!
//! This crate depends on `sea-orm-migration` only, never on the entities, so that changing an
//! entity can never rewrite history. A landed migration is never edited: a change is a new
//! migration that follows it.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_read_side;
mod m20261127_000002_create_users_and_revisions;
mod m20261127_000003_create_view_buckets;
mod m20261127_000004_index_editorial_order;
mod m20261127_000005_create_view_windows;
mod m20261127_000006_create_search_index;
mod m20261127_000007_create_takedown_requests;
mod m20261127_000008_add_token_rate_limits;
mod m20261127_000009_create_article_changes;
mod m20261127_000011_create_webhooks;
mod m20261127_000012_create_persisted_operations;
mod m20261127_000013_create_search_postings;
mod m20261127_000014_add_feed_ingest;
mod m20261127_000015_notify_content_changes;
mod m20261127_000016_quiet_feed_bookkeeping;
mod m20261127_000017_index_visible_ids;
mod m20261128_000018_order_tag_links_by_time;

/// Every migration, in the order it is applied.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_read_side::Migration),
            Box::new(m20261127_000002_create_users_and_revisions::Migration),
            Box::new(m20261127_000003_create_view_buckets::Migration),
            Box::new(m20261127_000004_index_editorial_order::Migration),
            Box::new(m20261127_000005_create_view_windows::Migration),
            Box::new(m20261127_000006_create_search_index::Migration),
            Box::new(m20261127_000007_create_takedown_requests::Migration),
            Box::new(m20261127_000008_add_token_rate_limits::Migration),
            Box::new(m20261127_000009_create_article_changes::Migration),
            Box::new(m20261127_000011_create_webhooks::Migration),
            Box::new(m20261127_000012_create_persisted_operations::Migration),
            Box::new(m20261127_000013_create_search_postings::Migration),
            Box::new(m20261127_000014_add_feed_ingest::Migration),
            Box::new(m20261127_000015_notify_content_changes::Migration),
            Box::new(m20261127_000016_quiet_feed_bookkeeping::Migration),
            Box::new(m20261127_000017_index_visible_ids::Migration),
            Box::new(m20261128_000018_order_tag_links_by_time::Migration),
        ]
    }
}
