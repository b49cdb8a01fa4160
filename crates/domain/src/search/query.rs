//! Reading the index: a reader's query, matched, ranked and paged.
//!
//! A query's words must all occur in an article (title, lead, tags, source or body). Matches are
//! ranked by where the words stand, from each article's short ranking record: the title weighs
//! most, then the lead and tags, then the source name, then the body's most repeated words; a
//! body that merely contains the words ranks below all of those. Equal ranks go to the newer
//! article, then the higher id, so the order is total and a cursor names a place in it.

use chrono::{DateTime, Utc};
use sea_orm::{
    Condition, ConnectionTrait, DbBackend, FromQueryResult, Order, Statement,
    sea_query::{
        Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, Func, Query as Sql,
        SelectStatement, UnionType, WithClause,
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

/// How the ranking record's fields weigh on SQLite (`bm25` column weights: title, lead, tags,
/// source, body keywords). PostgreSQL's weights are in its postings' scores (`index.rs`).
const SQLITE_WEIGHTS: &str = "10.0, 4.0, 4.0, 2.0, 3.0";

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
    let backend = db.get_database_backend();
    let wanted = page.limit + 1;
    let visible = audience.public().condition(now);
    // PostgreSQL: the hits that score come from the postings, so that a page costs what the head
    // of its words' postings costs rather than a score for every match. One word: the head of
    // its postings, read in order off their index and stopping at the page, however many
    // articles hold the word. Several words, first page: the heads of each word's postings,
    // merged (see `postings_top`), however many articles match: counting the matches first, to
    // choose, cost more than the merge for common words, whose whole lists the text index
    // intersects (14 ms for a city in every article and a common industry). Articles that hold
    // none of the words in their ranking record (score 0) follow once the postings run out.
    // Otherwise every match is scored.
    let postgres = backend == DbBackend::Postgres;
    let mut hits = Vec::new();
    let mut scored = false;
    if postgres && query.words.len() == 1 && page.cursor.as_ref().is_none_or(|c| c.score > 0.0) {
        let walk = postings_walk(
            &query.words[0],
            visible.clone(),
            narrowed.clone(),
            page.cursor.as_ref(),
            wanted,
        );
        hits = read_hits(db, backend.build(&walk)).await?;
        scored = true;
    } else if postgres
        && query.words.len() > 1
        && page.cursor.is_none()
        && let Some(top) = postings_top(db, query, &visible, &narrowed, wanted).await?
    {
        hits = top;
        scored = true;
    }
    let missing = wanted - hits.len() as u64;
    if missing > 0 {
        let zero_only = postgres && (query.words.len() == 1 || scored);
        let ranked = ranked_matches(backend, query, zero_only, visible, narrowed);
        let statement = page_of(backend, query, ranked, page.cursor.as_ref(), missing);
        hits.extend(read_hits(db, statement).await?);
    }
    // Forwards only: whatever came before the cursor is known to exist, since the cursor came
    // from it.
    Ok(Page::from_fetched(
        hits,
        page.limit,
        page.direction,
        page.cursor.is_some(),
    ))
}

/// Every match's id, time and score, without the article: `zero_only` keeps only those that
/// hold none of the words in their ranking record (PostgreSQL, for what follows the postings).
fn ranked_matches(
    backend: DbBackend,
    query: &SearchQuery,
    zero_only: bool,
    visible: Condition,
    narrowed: Condition,
) -> SelectStatement {
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
        .cond_where(visible)
        .cond_where(narrowed);
    if zero_only {
        let mut held = postings_of(query);
        held.expr(Expr::val(1));
        ranked
            .expr_as(
                Expr::cust("CAST(0 AS DOUBLE PRECISION)"),
                Alias::new("score"),
            )
            .and_where(Expr::not_exists(held));
    } else {
        ranked.expr_as(score(backend, query), Alias::new("score"));
    }
    ranked
}

/// The page of `limit` rows of `ranked` after `cursor`, best first, with their articles. Ranks
/// every match on its id, time and score only, takes the page, and only then reads the page's
/// articles: carrying every match's row (and body) through the sort would cost more than the
/// ranking.
fn page_of(
    backend: DbBackend,
    query: &SearchQuery,
    ranked: SelectStatement,
    cursor: Option<&HitCursor>,
    limit: u64,
) -> Statement {
    let col = |table: &str, name: &str| Expr::col((Alias::new(table), Alias::new(name)));
    let mut page_ids = Sql::select();
    page_ids
        .column(Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .best_first(
            col("ranked", "score"),
            col("ranked", "published_at"),
            col("ranked", "id"),
        )
        .limit(limit);
    if let Some(c) = cursor {
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
        .best_first(
            col("hits", "score"),
            col("hits", "published_at"),
            col("hits", "id"),
        );
    match backend {
        DbBackend::Sqlite => backend.build(&outer.with(rank_table(query))),
        _ => backend.build(&outer),
    }
}

/// PostgreSQL: the visible articles holding `word` in their ranking record, best first from the
/// word's postings (score, then recency, then id: the postings index's order), after `cursor`.
fn postings_walk(
    word: &str,
    visible: Condition,
    narrowed: Condition,
    cursor: Option<&HitCursor>,
    limit: u64,
) -> SelectStatement {
    let mut walk = Sql::select();
    walk.expr_as(posting("score"), Alias::new("score"))
        .column((article::Entity, Asterisk))
        .from(Alias::new(POSTINGS))
        .inner_join(
            article::Entity,
            Expr::col((article::Entity, article::Column::Id))
                .equals((Alias::new(POSTINGS), Alias::new("article_id"))),
        )
        .and_where(posting("word").eq(word))
        .cond_where(visible)
        .cond_where(narrowed)
        .best_first(
            posting("score"),
            posting("published_at"),
            posting("article_id"),
        )
        .limit(limit);
    if let Some(c) = cursor {
        // One row comparison in the index's own order, so it bounds the index scan.
        walk.and_where(
            Expr::tuple([
                posting("score"),
                posting("published_at"),
                posting("article_id"),
            ])
            .lt(Expr::tuple([
                Expr::val(c.score),
                Expr::val(c.at),
                Expr::val(c.id),
            ])),
        );
    }
    walk
}

/// PostgreSQL, several words: the visible articles among the first `depth` postings of any word
/// that hold every word, best first, and rank at or above `bound`. An article's score is the sum
/// of all its words' postings over the number of words (as [`score`] computes it), so a page
/// from here and the next one from full scoring order and page alike.
fn postings_merge(
    query: &SearchQuery,
    depth: u64,
    bound: Option<&Bound>,
    visible: Condition,
    narrowed: Condition,
    limit: u64,
) -> SelectStatement {
    let merged = Alias::new("merged");
    let col = |name: &str| Expr::col((Alias::new("merged"), Alias::new(name)));
    let words = query.words.len() as f64;
    // Each word's postings that an article ranking at or above the bound can have: one range
    // of the postings index a word (see [`Bound::floors`]).
    let mut read = query.words.iter().enumerate().map(|(i, word)| {
        let mut select = Sql::select();
        select
            .column(posting_col("article_id"))
            .column(posting_col("score"))
            .column(posting_col("published_at"))
            .from(Alias::new(POSTINGS))
            .and_where(posting("word").eq(word.as_str()));
        if let Some(floor) = bound.and_then(|b| b.floors.get(i)).filter(|f| **f > 0.0) {
            select.and_where(posting("score").gte(*floor));
        }
        select
    });
    let mut postings = read.next().unwrap_or_else(Sql::select);
    for select in read {
        postings.union(UnionType::All, select);
    }
    let mut sums = Sql::select();
    sums.expr_as(posting("article_id"), Alias::new("id"))
        .expr_as(
            Expr::from(Func::sum(posting("score"))).div(words),
            Alias::new("score"),
        )
        .expr_as(
            Func::max(posting("published_at")),
            Alias::new("published_at"),
        )
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("held"))
        .from_subquery(postings, Alias::new(POSTINGS))
        .and_where(heads(query, depth))
        .group_by_col(posting_col("article_id"));
    let mut merge = Sql::select();
    merge
        .expr_as(col("score"), Alias::new("score"))
        .column((article::Entity, Asterisk))
        .from_subquery(sums, merged.clone())
        .inner_join(
            article::Entity,
            Expr::col((article::Entity, article::Column::Id)).equals((merged, Alias::new("id"))),
        )
        // An article with a posting of every word holds them all (a posting is written only for
        // a word its document holds). Only one without is looked up, by key, in its document:
        // a join with every document that matches would read thousands of them for a word as
        // common as the city the whole archive is about.
        .and_where(
            col("held")
                .eq(i64::try_from(query.words.len()).unwrap_or(i64::MAX))
                .or(Expr::cust_with_values(
                    "(SELECT article_search.document @@ CAST($1 AS tsquery) \
                     FROM article_search WHERE article_search.article_id = merged.id)",
                    [tsquery(&query.words, " & ")],
                )),
        )
        .cond_where(visible)
        .cond_where(narrowed)
        .best_first(col("score"), col("published_at"), col("id"))
        .limit(limit);
    if let Some(bound) = bound {
        let above = col("score").gt(bound.score);
        merge.and_where(match bound.tie {
            Some((at, id)) => above.or(col("score").eq(bound.score).and(
                Expr::tuple([col("published_at"), col("id")])
                    .gte(Expr::tuple([Expr::val(at), Expr::val(id)])),
            )),
            None => above,
        });
    }
    merge
}

/// Below what no article outside the merged heads can rank: the mean of the last score read of
/// each word, and among articles at exactly that score, the oldest place read.
#[derive(Debug)]
struct Bound {
    score: f64,
    tie: Option<(DateTime<Utc>, i64)>,
    /// For each word, the least score its posting can have in an article that ranks at or above
    /// `score`: the other words can add at most their best scores, so the word must make up the
    /// rest. Postings below it are not read. A little below the exact figure, so that rounding
    /// in the database's sums never loses an article.
    floors: Vec<f64>,
}

impl Bound {
    /// The bound of heads whose last postings score `lasts` (0 for a word whose head is all its
    /// postings), of words whose best postings score `tops`.
    fn new(lasts: &[f64], tops: &[f64], tie: Option<(DateTime<Utc>, i64)>) -> Self {
        let slack: f64 = tops.iter().zip(lasts).map(|(top, last)| top - last).sum();
        Bound {
            score: lasts.iter().sum::<f64>() / lasts.len() as f64,
            tie,
            floors: tops
                .iter()
                .zip(lasts)
                .map(|(top, last)| last - (slack - (top - last)) - FLOOR_MARGIN)
                .collect(),
        }
    }
}

/// How far below the exact floor postings are read (scores are single-precision figures).
const FLOOR_MARGIN: f64 = 1e-6;

/// PostgreSQL, several words, first page: the threshold algorithm over the words' postings.
/// Reads the head of each word's postings (its best `depth`), sums every word's postings for
/// each article read (only those at or above the word's floor, see [`Bound::floors`]: a
/// posting below it belongs to no article that can rank high enough, and a city in every
/// article has tens of thousands), and keeps those that rank above anything not read: an
/// article outside every head scores at most the last score of each head, and, scoring
/// exactly that, is older than each head's last. `None` when the heads do not hold a full page
/// that provably comes first (a word common at the top score, or a narrow filter); the caller
/// then scores every match. A page found here is exactly the page full scoring would give.
async fn postings_top<C: ConnectionTrait>(
    db: &C,
    query: &SearchQuery,
    visible: &Condition,
    narrowed: &Condition,
    wanted: u64,
) -> Result<Option<Vec<Hit>>> {
    let backend = db.get_database_backend();
    // Each word's best score, read once and only when a head falls short of a word's postings:
    // heads that hold every posting need no bound.
    let mut tops: Option<Vec<f64>> = None;
    for depth in POSTINGS_DEPTHS {
        let mut lasts = Vec::with_capacity(query.words.len());
        let mut tie: Option<(DateTime<Utc>, i64)> = None;
        // Ties are ordered only where each head's last posting scores above nothing.
        let mut ties_ordered = true;
        let mut complete = true;
        for word in &query.words {
            let mut last = Sql::select();
            last.column(posting_col("article_id"))
                .column(posting_col("score"))
                .column(posting_col("published_at"))
                .from(Alias::new(POSTINGS))
                .and_where(posting("word").eq(word.as_str()))
                .best_first(
                    posting("score"),
                    posting("published_at"),
                    posting("article_id"),
                )
                .offset(depth - 1)
                .limit(1);
            // No posting that deep: the head is the word's every posting, and an article outside
            // it scores 0 for the word and has no place in its order.
            let mut score = 0.0;
            if let Some(row) = db.query_one_raw(backend.build(&last)).await? {
                score = row.try_get("", "score")?;
                let at: DateTime<Utc> = row.try_get("", "published_at")?;
                let id: i64 = row.try_get("", "article_id")?;
                complete = false;
                tie = Some(tie.map_or((at, id), |t| t.min((at, id))));
                ties_ordered &= score > 0.0;
            }
            lasts.push(score);
        }
        let bound = if complete {
            None
        } else {
            let tops = match &tops {
                Some(tops) => tops,
                None => tops.insert(top_scores(db, query).await?),
            };
            Some(Bound::new(&lasts, tops, tie.filter(|_| ties_ordered)))
        };
        let merge = postings_merge(
            query,
            depth,
            bound.as_ref(),
            visible.clone(),
            narrowed.clone(),
            wanted,
        );
        let hits = read_hits(db, backend.build(&merge)).await?;
        if complete || hits.len() as u64 == wanted {
            return Ok(Some(hits));
        }
    }
    Ok(None)
}

/// The best score of each of the query's words (0 for a word without postings).
async fn top_scores<C: ConnectionTrait>(db: &C, query: &SearchQuery) -> Result<Vec<f64>> {
    let backend = db.get_database_backend();
    let mut tops = Vec::with_capacity(query.words.len());
    for word in &query.words {
        let mut top = Sql::select();
        top.expr_as(Func::max(posting("score")), Alias::new("score"))
            .from(Alias::new(POSTINGS))
            .and_where(posting("word").eq(word.as_str()));
        let row = db.query_one_raw(backend.build(&top)).await?;
        let score: Option<f64> = row.map(|r| r.try_get("", "score")).transpose()?.flatten();
        tops.push(score.unwrap_or(0.0));
    }
    Ok(tops)
}

/// `search_postings.article_id IN` the first `depth` postings of any of the words, in the
/// postings index's order.
fn heads(query: &SearchQuery, depth: u64) -> Expr {
    let limit = i64::try_from(depth).unwrap_or(i64::MAX);
    let mut values = Vec::new();
    let heads = query
        .words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            values.push(sea_orm::Value::from(word.as_str()));
            values.push(sea_orm::Value::from(limit));
            format!(
                "(SELECT article_id FROM search_postings WHERE word = ${} \
                 ORDER BY score DESC, published_at DESC, article_id DESC LIMIT ${})",
                2 * i + 1,
                2 * i + 2
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ");
    Expr::cust_with_values(format!("search_postings.article_id IN ({heads})"), values)
}

/// How deep [`postings_top`] reads each word's postings, in turn, before scoring every match.
/// A merge costs about what reading every posting of its words costs, however deep its heads
/// (measured over the benchmark corpus: 4.7 ms at 256, 6.2 ms at 2,048 for a city that is in
/// every article and a common industry), so the first depth is one that seldom falls short.
const POSTINGS_DEPTHS: [u64; 2] = [2048, 16384];

fn posting_col(column: &str) -> (Alias, Alias) {
    (Alias::new(POSTINGS), Alias::new(column))
}

/// The order of every ranked list here, and of the postings index: best score first, then the
/// newest, then the highest id.
trait BestFirst {
    fn best_first(&mut self, score: Expr, at: Expr, id: Expr) -> &mut Self;
}

impl BestFirst for SelectStatement {
    fn best_first(&mut self, score: Expr, at: Expr, id: Expr) -> &mut Self {
        self.order_by_expr(score, Order::Desc)
            .order_by_expr(at, Order::Desc)
            .order_by_expr(id, Order::Desc)
    }
}

/// PostgreSQL's postings table (see `index.rs`).
const POSTINGS: &str = "search_postings";

fn posting(column: &str) -> Expr {
    Expr::col((Alias::new(POSTINGS), Alias::new(column)))
}

/// `FROM search_postings WHERE` it is the joined article's posting of one of the query's words;
/// without columns.
fn postings_of(query: &SearchQuery) -> SelectStatement {
    let mut select = Sql::select();
    select
        .from(Alias::new(POSTINGS))
        .and_where(posting("article_id").equals((article::Entity, article::Column::Id)))
        .and_where(posting("word").is_in(query.words.iter().map(String::as_str)));
    select
}

/// Runs a statement whose rows are a score and an article's columns.
async fn read_hits<C: ConnectionTrait>(db: &C, statement: Statement) -> Result<Vec<Hit>> {
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
    Ok(hits)
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

/// The score of the joined article: its ranking record against any of the words. On SQLite it
/// is looked up in the `rank` table of [`rank_table`]: computed once per query, where a
/// correlated `MATCH` per matching article would search the ranking index once for each. On
/// PostgreSQL it is the mean of the words' postings, as `ts_rank` of the words' `|` would give.
fn score(backend: DbBackend, query: &SearchQuery) -> Expr {
    match backend {
        DbBackend::Sqlite => Expr::cust(
            "COALESCE((SELECT rank.score FROM rank WHERE rank.article_id = articles.id), 0.0)",
        ),
        _ => {
            let mut sum = postings_of(query);
            sum.expr(Func::sum(posting("score")));
            let words = query.words.len() as f64;
            Expr::from(Func::coalesce([Expr::from(sum), Expr::val(0.0)])).div(words)
        }
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
    fn each_word_must_make_up_what_the_others_cannot_reach() {
        // Heads ending at 0.6 and 0.2, of words whose best postings score 0.7 and 0.6: ranking
        // at the bound (a mean of 0.4) takes 0.8 in all, so the first word needs at least 0.2
        // (the second adds at most 0.6) and the second at least 0.1.
        let bound = Bound::new(&[0.6, 0.2], &[0.7, 0.6], None);
        assert!((bound.score - 0.4).abs() < 1e-12);
        let exact = [0.2, 0.1];
        for (floor, exact) in bound.floors.iter().zip(exact) {
            assert!(
                *floor < exact && exact - floor < 1e-5,
                "{floor} for {exact}"
            );
        }
        // A word whose head is all its postings (last 0) is read whole.
        let bound = Bound::new(&[0.5, 0.0], &[0.5, 0.3], None);
        assert!(bound.floors[1] <= 0.0 && (bound.floors[0] - 0.2).abs() < 1e-5);
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
