//! The GraphQL schema: built once at start-up and shared by every worker; each request gets its
//! own [`loaders::RequestContext`].

pub mod errors;
pub mod ids;
pub mod loaders;
pub mod query;
pub mod types;

use async_graphql::{EmptyMutation, EmptySubscription, Schema};

/// The schema type.
pub type NewsroomSchema = Schema<query::Query, EmptyMutation, EmptySubscription>;

/// The deepest query accepted. The portal's deepest real query (an article's related articles'
/// channels' parents) is 6 levels; the margin allows for fragments.
const MAX_DEPTH: usize = 12;

/// Builds the schema. It holds no connection: per-request data comes with each request.
pub fn build() -> NewsroomSchema {
    Schema::build(query::Query, EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    build().sdl()
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
