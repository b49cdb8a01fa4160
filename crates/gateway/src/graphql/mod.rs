//! The GraphQL schema: built once at start-up and shared by every worker; each request gets its
//! own [`loaders::RequestContext`].

pub mod cacheable;
pub mod documents;
pub mod errors;
pub mod guards;
pub mod http;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod persisted;
pub mod query;
pub mod search;
pub mod subscription;
pub mod types;
pub mod webhooks;
pub mod ws;

use async_graphql::{Schema, SchemaBuilder};

pub use mutation::Services;

/// The schema type.
pub type NewsroomSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
}

/// Builds the schema with the services mutations use. It holds no connection: per-request data
/// comes with each request. async-graphql's depth and complexity limits back up the checks in
/// [`limits`]. In production, introspection is off, and so are "did you mean" suggestions, which
/// would otherwise tell field names that introspection hides.
///
/// The default complexity limit, 5,000: the portal's article page with 10 related articles costs
/// about 300; an `articles(first: 100)` page with channel, source and tags about 1,000.
pub fn build(services: Services, production: bool, limits: limits::QueryLimits) -> NewsroomSchema {
    // The checks in `limits` hold ordinary fields to `max_depth` and introspection to its own
    // bound; async-graphql counts both alike, so its line stands behind the larger.
    let depth = if production {
        limits.max_depth
    } else {
        limits.max_depth.max(limits::INTROSPECTION_DEPTH)
    };
    let builder = builder()
        .data(services)
        .limit_depth(depth)
        .limit_complexity(limits.max_complexity);
    if production {
        builder
            .disable_introspection()
            .disable_suggestions()
            .finish()
    } else {
        builder.finish()
    }
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

#[cfg(test)]
mod tests {
    /// `schema.graphql` is what the code serves; `make schema` rewrites it.
    #[test]
    fn checked_in_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == super::sdl(),
            "schema.graphql is stale: run `make schema` and commit the result"
        );
    }
}
