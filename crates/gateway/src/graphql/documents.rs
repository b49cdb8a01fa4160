//! Parsed queries, by their text. Clients send the same few operations over and over (a portal's
//! pages, a partner's sync); parsing one with async-graphql's pest grammar was a fourteenth of the
//! uncached home page's instructions, and copying a parsed document is a fraction of that.
//! Only documents that parsed and passed the query limits are kept: a syntax error or a refused
//! query is parsed, and reported, every time, and cannot fill the cache.

use std::sync::Arc;

use async_graphql::{ServerError, parser::types::ExecutableDocument};

use super::limits;

/// What a parsed document is counted as, per byte of its text. A parsed field is a few hundred
/// bytes (positions, names, an empty argument list and directive list) for a name of ten or so.
pub const PARSED_BYTES_PER_TEXT_BYTE: u32 = 32;

/// The most the cache holds, counted as [`PARSED_BYTES_PER_TEXT_BYTE`] times the text: 256 KiB
/// of query text, a hundred or more of a site's operations.
pub const CAPACITY: u64 = 8 * 1024 * 1024;

/// Parsed documents by query text.
pub struct Documents(moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>);

impl Default for Documents {
    fn default() -> Self {
        Documents(
            moka::sync::Cache::builder()
                .weigher(|query: &Arc<str>, _: &Arc<ExecutableDocument>| {
                    u32::try_from(query.len())
                        .unwrap_or(u32::MAX)
                        .saturating_mul(PARSED_BYTES_PER_TEXT_BYTE)
                })
                .max_capacity(CAPACITY)
                .build(),
        )
    }
}

impl Documents {
    /// `query` parsed, from the cache when it was kept before; errors as [`limits::parse`]
    /// reports them. The flag says the document was parsed now, so the caller may
    /// [`keep`](Self::keep) it once it has passed the limits.
    pub fn parse(&self, query: &str) -> Result<(ExecutableDocument, bool), ServerError> {
        if let Some(doc) = self.0.get(query) {
            return Ok((ExecutableDocument::clone(&doc), false));
        }
        Ok((limits::parse(query)?, true))
    }

    /// Keeps `doc`, parsed from `query` and found within the limits, for the next request.
    pub fn keep(&self, query: &str, doc: &ExecutableDocument) {
        self.0.insert(Arc::from(query), Arc::new(doc.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_query_parses_the_same_from_the_cache() {
        let documents = Documents::default();
        let query = "query Home { articles(first: 20) { nodes { id title } } }";
        let (first, parsed) = documents.parse(query).expect("parses");
        assert!(parsed);
        // Not kept until the caller says so (after the limits).
        assert!(documents.parse(query).expect("parses").1);
        documents.keep(query, &first);
        let (again, parsed) = documents.parse(query).expect("parses from the cache");
        assert!(!parsed);
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
    }

    #[test]
    fn a_syntax_error_is_reported_each_time_and_never_kept() {
        let documents = Documents::default();
        for _ in 0..2 {
            let error = documents
                .parse("query { articles(")
                .expect_err("does not parse");
            assert!(
                error.message.starts_with("syntax error at line 1"),
                "{}",
                error.message
            );
        }
        documents.0.run_pending_tasks();
        assert_eq!(documents.0.entry_count(), 0);
    }

    #[test]
    fn the_cache_holds_no_more_than_its_capacity() {
        let documents = Documents::default();
        let filler = "x".repeat(30_000);
        for i in 0..40 {
            let query = format!("query Q{i} {{ __typename }} # {filler}");
            let (doc, _) = documents.parse(&query).expect("parses");
            documents.keep(&query, &doc);
        }
        documents.0.run_pending_tasks();
        assert!(documents.0.weighted_size() <= CAPACITY);
        assert!(documents.0.entry_count() < 40);
    }
}
