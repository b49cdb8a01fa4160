//! The Newsroom gateway: configuration, the actix-web server, and the GraphQL schema over the
//! domain. Domain errors become GraphQL errors here, in [`graphql::errors`], and nowhere else.

pub mod app;
pub mod auth;
pub mod background;
pub mod caching;
pub mod cli;
pub mod config;
pub mod feeds;
pub mod graphiql;
pub mod graphql;
pub mod ingest;
pub mod limits;
pub mod ops;
pub mod publications;
pub mod response_cache;
pub mod rest;
pub mod views;
pub mod webhooks;
