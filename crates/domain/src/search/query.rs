//! Reading the index: a reader's query, matched, ranked and paged.
//!
//! A query's words must all occur in an article (title, lead, tags, source or body). Matches are
//! ranked by where the words stand, from each article's short ranking record: the title weighs
//! most, then the lead and tags, then the source name, then the body's most repeated words; a
//! body that merely contains the words ranks below all of those. Equal ranks go to the newer
//! article, then the higher id, so the order is total and a cursor names a place in it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Order,
    sea_query::{
        Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, Query as Sql, SelectStatement,
        SimpleExpr, WithClause,
    },
};
use sha2::{Digest, Sha256};

use super::{index::lexeme, text::Segmenter};
use crate::{
    articles::{self, ArticleFilter, Audience},
    entities::article,
    error::{Error, Result},
    pagination::{Cursor, Page, PageRequest, pack, unpack},
};

/// The longest query accepted, in characters. Reader queries are a few words; anything longer is
/// pasted text, which would only make the query slow.
pub const MAX_QUERY_CHARS: usize = 100;

/// How the ranking record's fields weigh, on SQLite (`bm25` column weights: title, lead, tags,
/// source, body keywords) and on PostgreSQL (`ts_rank` weights of D, C, B, A: keywords, source,
/// lead and tags, title).
const SQLITE_WEIGHTS: &str = "10.0, 4.0, 4.0, 2.0, 3.0";
const POSTGRES_WEIGHTS: &str = "'{0.1, 0.2, 0.4, 1.0}'";

/// A reader's query, checked and cut into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// Checks `raw` and cuts it into words. Empty, blank and over-long queries are validation
    /// errors on `query`. Quotes, operators and other punctuation are text like any other: they
    /// are never words, so a query of nothing else finds nothing.
    pub fn parse(segmenter: &Segmenter, raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Error::validation("query", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::validation(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        Ok(SearchQuery {
            words: segmenter.query_words(trimmed),
        })
    }

    /// The words, folded as the index holds them.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// A short fingerprint of the words, carried in cursors so that a cursor from one query is
    /// refused by another.
    fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.words.join("\u{1f}").as_bytes());
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Position in a list of hits: the hit's score, publish time and id, and the query it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct HitCursor {
    /// The hit's score.
    pub score: f64,
    /// Its publish time.
    pub at: DateTime<Utc>,
    /// Its id.
    pub id: i64,
    query: String,
}

impl Cursor for HitCursor {
    fn encode(&self) -> String {
        pack(
            "h",
            &format!(
                "{}:{:016x}:{}:{}",
                self.query,
                self.score.to_bits(),
                self.at.timestamp_micros(),
                self.id
            ),
        )
    }

    fn decode(raw: &str) -> Option<Self> {
        let mut buf = String::new();
        let mut parts = unpack("h", raw, &mut buf)?.split(':');
        let query = parts.next()?.to_owned();
        let score = f64::from_bits(u64::from_str_radix(parts.next()?, 16).ok()?);
        let at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
        let id = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !score.is_finite() {
            return None;
        }
        crate::editorial::checks::time("after", at).ok()?;
        Some(HitCursor {
            score,
            at,
            id,
            query,
        })
        .filter(|cursor| cursor.encode() == raw)
    }
}

/// An article that matches, with its score (higher is better; comparable only within one query
/// on one backend).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The article.
    pub article: article::Model,
    /// How well it matches.
    pub score: f64,
}

impl Hit {
    /// This hit's cursor in the results of `query`.
    pub fn cursor(&self, query: &SearchQuery) -> HitCursor {
        HitCursor {
            score: self.score,
            at: articles::cursor_of(&self.article).at,
            id: self.article.id,
            query: query.fingerprint(),
        }
    }
}

/// One page of the articles `audience` may see in public lists (partners: only what they may
/// republish) matching `query` and `filter`, best first. Reads forwards only
/// (`first` / `after`).
pub async fn search<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    query: &SearchQuery,
    filter: &ArticleFilter,
    page: &PageRequest<HitCursor>,
) -> Result<Page<Hit>> {
    if let Some(cursor) = &page.cursor
        && cursor.query != query.fingerprint()
    {
        return Err(Error::validation(
            "after",
            "is not a cursor this list issued",
        ));
    }
    // The filter is checked even when there is nothing to search for: a bad one is an error.
    let narrowed = filter.resolve(db, audience.public(), now).await?;
    if query.words.is_empty() {
        return Ok(Page::from_fetched(
            Vec::new(),
            page.limit,
            page.direction,
            page.cursor.is_some(),
        ));
    }
    // Rank every match on its id, time and score only, take the page, and only then read the
    // page's articles: carrying every match's row (and body) through the sort would cost more
    // than the ranking.
    let backend = db.get_database_backend();
    let mut ranked = matching(backend, query);
    ranked
        .expr_as(
            Expr::col((article::Entity, article::Column::Id)),
            Alias::new("id"),
        )
        .expr_as(
            Expr::col((article::Entity, article::Column::PublishedAt)),
            Alias::new("published_at"),
        )
        .expr_as(score(backend, query), Alias::new("score"))
        .cond_where(audience.public().condition(now))
        .cond_where(narrowed);

    let col = |table: &str, name: &str| Expr::col((Alias::new(table), Alias::new(name)));
    let mut page_ids = Sql::select();
    page_ids
        .column(Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .order_by_expr(col("ranked", "score"), Order::Desc)
        .order_by_expr(col("ranked", "published_at"), Order::Desc)
        .order_by_expr(col("ranked", "id"), Order::Desc)
        .limit(page.limit + 1);
    if let Some(c) = &page.cursor {
        let score = || col("ranked", "score");
        page_ids.and_where(
            score().lt(c.score).or(score().eq(c.score).and(
                Expr::tuple([col("ranked", "published_at"), col("ranked", "id")])
                    .lt(Expr::tuple([Expr::val(c.at), Expr::val(c.id)])),
            )),
        );
    }
    let mut outer = Sql::select();
    outer
        .column((Alias::new("hits"), Alias::new("score")))
        .column((article::Entity, Asterisk))
        .from_subquery(page_ids, Alias::new("hits"))
        .inner_join(
            article::Entity,
            Expr::col((article::Entity, article::Column::Id))
                .equals((Alias::new("hits"), Alias::new("id"))),
        )
        .order_by_expr(col("hits", "score"), Order::Desc)
        .order_by_expr(col("hits", "published_at"), Order::Desc)
        .order_by_expr(col("hits", "id"), Order::Desc);
    let statement = match backend {
        DbBackend::Sqlite => backend.build(&outer.with(rank_table(query))),
        _ => backend.build(&outer),
    };
    let rows = db.query_all_raw(statement).await?;
    let hits = rows
        .iter()
        .map(|row| {
            Ok(Hit {
                article: article::Model::from_query_result(row, "")?,
                score: row.try_get::<f64>("", "score")?,
            })
        })
        .collect::<Result<Vec<_>, sea_orm::DbErr>>()?;
    // Forwards only: whatever came before the cursor is known to exist, since the cursor came
    // from it.
    Ok(Page::from_fetched(
        hits,
        page.limit,
        page.direction,
        page.cursor.is_some(),
    ))
}

/// How many articles `audience` may see in public lists match `query` and `filter`.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    query: &SearchQuery,
    filter: &ArticleFilter,
) -> Result<u64> {
    let narrowed = filter.resolve(db, audience.public(), now).await?;
    if query.words.is_empty() {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let mut select = matching(backend, query);
    select
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .cond_where(audience.public().condition(now))
        .cond_where(narrowed);
    let row = db.query_one_raw(backend.build(&select)).await?;
    let n = row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `FROM article_search JOIN articles ... WHERE <every word matches>`, without columns.
fn matching(backend: DbBackend, query: &SearchQuery) -> SelectStatement {
    let (key, condition) = match backend {
        DbBackend::Sqlite => (
            "rowid",
            Expr::cust_with_values("article_search MATCH ?", [fts5_query(&query.words, " ")]),
        ),
        _ => (
            "article_id",
            Expr::cust_with_values(
                "article_search.document @@ CAST($1 AS tsquery)",
                [tsquery(&query.words, " & ")],
            ),
        ),
    };
    let mut select = Sql::select();
    select
        .from(Alias::new("article_search"))
        .inner_join(
            article::Entity,
            Expr::col((article::Entity, article::Column::Id))
                .equals((Alias::new("article_search"), Alias::new(key))),
        )
        .and_where(condition);
    select
}

/// The score of the joined article: its ranking record against any of the words. (sea-query
/// takes `?` for a value on SQLite and `$1` on PostgreSQL.) On SQLite it is looked up in the
/// `rank` table of [`rank_table`]: computed once per query, where a correlated `MATCH` per
/// matching article would search the ranking index once for each.
fn score(backend: DbBackend, query: &SearchQuery) -> SimpleExpr {
    match backend {
        DbBackend::Sqlite => Expr::cust(
            "COALESCE((SELECT rank.score FROM rank WHERE rank.article_id = articles.id), 0.0)",
        ),
        _ => Expr::cust_with_values(
            format!(
                "CAST(ts_rank({POSTGRES_WEIGHTS}, article_search.headline, CAST($1 AS tsquery)) AS DOUBLE PRECISION)"
            ),
            [tsquery(&query.words, " | ")],
        ),
    }
}

/// SQLite: `WITH rank AS MATERIALIZED (...)`, the `bm25` score of every matching article whose
/// ranking record holds any of the words.
fn rank_table(query: &SearchQuery) -> WithClause {
    let mut select = Sql::select();
    select
        .expr_as(Expr::cust("rowid"), Alias::new("article_id"))
        .expr_as(
            Expr::cust(format!("-bm25(article_search_rank, {SQLITE_WEIGHTS})")),
            Alias::new("score"),
        )
        .from(Alias::new("article_search_rank"))
        .and_where(Expr::cust_with_values(
            "article_search_rank MATCH ?",
            [fts5_query(&query.words, " OR ")],
        ))
        // Only the articles that match: an article with one of several words in its ranking
        // record but not all of them anywhere is no hit, and scoring it is wasted. The `+`
        // keeps FTS5 from taking the list as rowids to look up one by one, which re-runs the
        // MATCH for each.
        .and_where(Expr::cust_with_values(
            "+rowid IN (SELECT rowid FROM article_search WHERE article_search MATCH ?)",
            [fts5_query(&query.words, " ")],
        ));
    WithClause::new()
        .cte(
            CommonTableExpression::new()
                .query(select)
                .table_name(Alias::new("rank"))
                .materialized(true)
                .to_owned(),
        )
        .to_owned()
}

/// The words as an FTS5 query: each a quoted string (so `OR`, `NEAR`, `*` or `:` inside one is
/// text), joined by `operator`.
fn fts5_query(words: &[String], operator: &str) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(operator)
}

/// The words as a tsquery literal: each a quoted lexeme, joined by `operator`.
fn tsquery(words: &[String], operator: &str) -> String {
    words
        .iter()
        .map(|w| lexeme(w))
        .collect::<Vec<_>>()
        .join(operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked_and_cut() {
        let s = Segmenter::new(None).unwrap();
        let field = |r: Result<SearchQuery>| match r {
            Err(Error::Validation { field, message }) => format!("{field}: {message}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(SearchQuery::parse(&s, "")),
            "query: must not be empty"
        );
        assert_eq!(
            field(SearchQuery::parse(&s, " \t\u{3000}\n")),
            "query: must not be empty"
        );
        assert_eq!(
            field(SearchQuery::parse(&s, &"数".repeat(101))),
            "query: must be at most 100 characters"
        );
        assert!(SearchQuery::parse(&s, &"数".repeat(100)).is_ok());
        let q = SearchQuery::parse(&s, " 数字经济 ").unwrap();
        assert_eq!(q.words(), ["数字经济"]);
        assert_eq!(
            fts5_query(&["a\"b".into(), "c".into()], " OR "),
            "\"a\"\"b\" OR \"c\""
        );
        assert_eq!(tsquery(&["a'b".into(), "c".into()], " & "), "'a''b' & 'c'");
    }

    #[test]
    fn cursors_round_trip_and_name_their_query() {
        let s = Segmenter::new(None).unwrap();
        let q = SearchQuery::parse(&s, "双过半").unwrap();
        let cursor = HitCursor {
            score: 0.123_456_789,
            at: DateTime::from_timestamp_micros(1_593_734_400_123_456).unwrap(),
            id: 7,
            query: q.fingerprint(),
        };
        assert_eq!(HitCursor::decode(&cursor.encode()), Some(cursor.clone()));
        assert_ne!(
            q.fingerprint(),
            SearchQuery::parse(&s, "招商引资").unwrap().fingerprint()
        );
        let time = crate::pagination::TimeCursor {
            at: cursor.at,
            id: 7,
        };
        assert_eq!(HitCursor::decode(&time.encode()), None);
        for raw in ["", "!!", "aDp4", &"A".repeat(300)] {
            assert_eq!(HitCursor::decode(raw), None, "{raw}");
        }
    }

    mod fuzz {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn fuzz_hit_cursors_round_trip(
                score in any::<f64>().prop_filter("finite", |s| s.is_finite()),
                micros in -62_135_596_800_000_000i64..=253_402_300_799_999_999,
                id in any::<i64>(),
                query in "[0-9a-f]{12}",
            ) {
                let at = DateTime::from_timestamp_micros(micros).unwrap();
                let cursor = HitCursor { score, at, id, query };
                prop_assert_eq!(HitCursor::decode(&cursor.encode()), Some(cursor));
            }

            /// Decoding never panics and accepts only what [`HitCursor::encode`] writes.
            #[test]
            fn fuzz_hit_cursor_decoding_accepts_only_issued_cursors(
                raw in prop_oneof![
                    any::<String>(),
                    ("[0-9a-fA-F]{0,13}", "[0-9a-fA-F]{1,17}", "[-+0]{0,2}[0-9]{1,16}", "[-+0]{0,2}[0-9]{1,5}")
                        .prop_map(|(q, bits, micros, id)| {
                            URL_SAFE_NO_PAD.encode(format!("h:{q}:{bits}:{micros}:{id}"))
                        }),
                ],
            ) {
                if let Some(cursor) = HitCursor::decode(&raw) {
                    prop_assert_eq!(cursor.encode(), raw);
                }
            }
        }
    }
}
