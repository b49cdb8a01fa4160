//! Parsed queries, by their text. Clients send the same few operations over and over (a portal's
//! pages, a partner's sync); parsing one with async-graphql's pest grammar was a fourteenth of the
//! uncached home page's instructions, and copying a parsed document is a fraction of that.
//! Only documents that parsed are kept: a syntax error is parsed, and reported, every time.

use std::sync::Arc;

use async_graphql::{ServerError, parser::types::ExecutableDocument};

use super::limits;

/// How many bytes of query text the cache holds, at most. A document's parsed form is a few
/// times its text; the cache is weighed by the text, which is what a client controls.
pub const CAPACITY_BYTES: u64 = 1024 * 1024;

/// Parsed documents by query text.
pub struct Documents(moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>);

impl Default for Documents {
    fn default() -> Self {
        Documents(
            moka::sync::Cache::builder()
                .weigher(|query: &Arc<str>, _: &Arc<ExecutableDocument>| {
                    u32::try_from(query.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(CAPACITY_BYTES)
                .build(),
        )
    }
}

impl Documents {
    /// `query` parsed, from the cache when it was parsed before; errors as [`limits::parse`]
    /// reports them.
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, ServerError> {
        if let Some(doc) = self.0.get(query) {
            return Ok(ExecutableDocument::clone(&doc));
        }
        let doc = limits::parse(query)?;
        self.0.insert(Arc::from(query), Arc::new(doc.clone()));
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_parses_the_same_from_the_cache() {
        let documents = Documents::default();
        let query = "query Home { articles(first: 20) { nodes { id title } } }";
        let first = documents.parse(query).expect("parses");
        let again = documents.parse(query).expect("parses from the cache");
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        assert_eq!(
            documents.0.get(query).map(|d| format!("{d:?}")),
            Some(format!("{first:?}"))
        );
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
    fn the_cache_holds_no_more_text_than_its_capacity() {
        let documents = Documents::default();
        let filler = "x".repeat(60_000);
        for i in 0..40 {
            let query = format!("query Q{i} {{ __typename }} # {filler}");
            documents.parse(&query).expect("parses");
        }
        documents.0.run_pending_tasks();
        assert!(documents.0.weighted_size() <= CAPACITY_BYTES);
        assert!(documents.0.entry_count() < 40);
    }
}
