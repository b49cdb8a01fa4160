//! The GraphQL schema: built once at start-up and shared by every worker; each request gets its
//! own [`loaders::RequestContext`].

pub mod errors;
pub mod guards;
pub mod ids;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod search;
pub mod types;
pub mod webhooks;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};

pub use mutation::Services;

/// The schema type.
pub type NewsroomSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// The deepest query accepted. The portal's deepest real query (an article's related articles'
/// channels' parents) is 6 levels; the margin allows for fragments.
const MAX_DEPTH: usize = 12;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The most work one query may ask for: each field costs 1, a list field its page size times
/// what it selects. The portal's article page with 10 related articles costs about 300; an
/// `articles(first: 100)` page with channel, source and tags about 1,000.
const MAX_COMPLEXITY: usize = 5_000;

/// Builds the schema with the services mutations use. It holds no connection: per-request data
/// comes with each request. In production, introspection is off.
pub fn build(services: Services, production: bool) -> NewsroomSchema {
    let builder = builder().data(services);
    if production {
        builder.disable_introspection().finish()
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
