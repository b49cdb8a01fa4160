//! Editors' article lists sort by publish time, or creation time for drafts that have none; this
//! index serves that order. It replaces the (status, updated_at) index of the second migration,
//! which no query used.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_articles_status_updated")
            .await?;
        // An expression index; the extra parentheses are what PostgreSQL requires and SQLite takes.
        db.execute_unprepared(
            "CREATE INDEX idx_articles_editorial_order ON articles ((COALESCE(published_at, created_at)), id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_articles_editorial_order")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_articles_status_updated ON articles (status, updated_at)",
        )
        .await?;
        Ok(())
    }
}
