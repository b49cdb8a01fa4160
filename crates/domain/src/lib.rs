//! The Newsroom domain: entities, and the rules that decide what readers see.
//!
//! This crate knows nothing of HTTP, GraphQL or tokens. Services take any sea-orm
//! `ConnectionTrait`, so the same function runs on the pool or inside a transaction, and take the
//! current time from the caller (see [`clock`]) so that visibility can be tested without sleeping.

pub mod articles;
pub mod catalog;
pub mod changes;
pub mod clock;
pub mod db;
pub mod demo;
pub mod disclaimer;
pub mod editorial;
#[expect(
    missing_docs,
    reason = "entity fields mirror the migration's columns one to one"
)]
pub mod entities;
pub mod error;
pub mod feeds;
pub mod ingest;
pub mod pagination;
pub mod persisted;
pub mod render;
pub mod search;
pub mod site;
pub mod takedowns;
pub mod tokens;
pub mod transfer;
pub mod users;
pub mod views;
pub mod webhooks;

pub use error::{Error, Result};
