//! Chinese full-text search over what readers can see.
//!
//! Text is cut into words by jieba ([`text`]) when an article is written and when a query
//! arrives. The index lives in the database (FTS5 on SQLite, a GIN-indexed tsvector on
//! PostgreSQL) and is written by [`index`] in the same transaction as the article, so it is never
//! behind what is published. [`query`] matches and ranks; [`snippet`] shows the passage that
//! matched.

pub mod index;
pub mod query;
pub mod snippet;
pub mod text;

pub use index::{index_articles, rebuild};
pub use query::{Hit, HitCursor, MAX_QUERY_CHARS, SearchQuery, count, search};
pub use snippet::{Highlight, MAX_MARKER_CHARS, SNIPPET_CHARS, snippet};
pub use text::{DictionaryError, Segmenter};
