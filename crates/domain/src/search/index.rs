//! Writing the index: what an article contributes, and keeping its rows in step with it. Every
//! function here runs on the connection it is given, so an editorial save writes the article and
//! its index rows in one transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionSession, TransactionTrait, Value,
};

use super::text::{Segmenter, counts};
use crate::{
    articles, catalog,
    entities::{ArticleStatus, article},
    error::Result,
    render,
};

/// How many of the body's keywords the ranking record keeps, and how many times at most each (as
/// often as the body has it): enough for a body that keeps returning to a subject to rank above
/// one that mentions it once, not so many that the record grows with the body.
const KEYWORDS: usize = 24;
const KEYWORD_REPEATS: usize = 4;

/// Articles written per statement; far below both backends' limits on bound values.
const ROWS_PER_INSERT: usize = 100;

/// Postings written per statement (four values each).
const POSTINGS_PER_INSERT: usize = 1_000;

/// Whether an article belongs in the index: published, or scheduled (it becomes visible at its
/// time with no one acting, and the search query checks that time). Drafts, archived and
/// taken-down articles never do.
pub fn indexable(status: ArticleStatus) -> bool {
    matches!(status, ArticleStatus::Published | ArticleStatus::Scheduled)
}

/// The words an article contributes, field by field.
struct Document {
    id: i64,
    /// Where it stands in recency order (its publish time), which postings carry.
    at: DateTime<Utc>,
    title: Vec<String>,
    lead: Vec<String>,
    tags: Vec<String>,
    source: Vec<String>,
    body: Vec<String>,
    /// The body's keywords, each as many times as it occurs (up to [`KEYWORD_REPEATS`]).
    keywords: Vec<String>,
}

impl Document {
    fn build(
        segmenter: &Segmenter,
        a: &article::Model,
        tags: &[String],
        source: Option<&str>,
    ) -> Self {
        let text = render::to_text(&a.body, a.body_format);
        let body = segmenter.index_words(&text);
        let counted = counts(&body);
        let keywords = segmenter
            .keywords(&text, KEYWORDS)
            .into_iter()
            .flat_map(|k| {
                let n = counted.get(k.as_str()).copied().unwrap_or(1);
                std::iter::repeat_n(k, n.clamp(1, KEYWORD_REPEATS))
            })
            .collect();
        Document {
            id: a.id,
            at: articles::cursor_of(a).at,
            title: segmenter.index_words(&a.title),
            lead: segmenter.index_words(a.lead.as_deref().unwrap_or_default()),
            tags: segmenter.index_words(&tags.join("\n\n")),
            source: segmenter.index_words(source.unwrap_or_default()),
            body,
            keywords,
        }
    }

    /// Every distinct word, for matching.
    fn all_words(&self) -> Vec<&str> {
        let mut words: Vec<&str> = [
            &self.title,
            &self.lead,
            &self.tags,
            &self.source,
            &self.body,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
        words.sort_unstable();
        words.dedup();
        words
    }

    /// The ranking record's fields in order, with the weight class PostgreSQL gives each.
    fn ranked_fields(&self) -> [(Vec<&str>, Class); 5] {
        fn words(w: &[String]) -> Vec<&str> {
            w.iter().map(String::as_str).collect()
        }
        [
            (words(&self.title), Class::A),
            (words(&self.lead), Class::B),
            (words(&self.tags), Class::B),
            (words(&self.source), Class::C),
            (words(&self.keywords), Class::D),
        ]
    }

    /// PostgreSQL's postings: each word of the ranking record that the article holds, with its
    /// score there. A word of the record the article does not hold (a keyword cut differently
    /// from the body's words) gets none: no query with it matches the article.
    fn postings(&self) -> Vec<(&str, f64)> {
        let mut classes: BTreeMap<&str, Vec<Class>> = BTreeMap::new();
        for (words, class) in self.ranked_fields() {
            for word in words {
                let list = classes.entry(word).or_default();
                if list.len() < MAX_POSITIONS {
                    list.push(class);
                }
            }
        }
        let held = self.all_words();
        classes
            .into_iter()
            .filter(|(word, _)| held.binary_search(word).is_ok())
            .map(|(word, list)| (word, f64::from(term_score(&list))))
            .collect()
    }
}

/// The weight classes of PostgreSQL's `ts_rank`, heaviest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    A,
    B,
    C,
    D,
}

impl Class {
    /// Its weight: `ts_rank`'s weights array was `{0.1, 0.2, 0.4, 1.0}` (D to A).
    fn weight(self) -> f32 {
        match self {
            Class::A => 1.0,
            Class::B => 0.4,
            Class::C => 0.2,
            Class::D => 0.1,
        }
    }
}

/// PostgreSQL keeps at most 256 positions of a lexeme.
const MAX_POSITIONS: usize = 256;

/// The score of a word whose occurrences in the ranking record have `classes`, in record order:
/// what PostgreSQL's `ts_rank` (`calc_rank_or` in `tsrank.c`, without normalization) gives a
/// one-word query, in the same single-precision steps, so that the ranking is the one the
/// `headline` vector gave before the postings replaced it. A query of several words scores the
/// mean of its words' scores, which is what `ts_rank` of their `|` computes too.
fn term_score(classes: &[Class]) -> f32 {
    let (mut sum, mut top, mut top_at) = (0.0_f32, -1.0_f32, 0_usize);
    for (j, class) in classes.iter().enumerate() {
        let w = class.weight();
        sum += w / ((j + 1) * (j + 1)) as f32;
        if w > top {
            (top, top_at) = (w, j);
        }
    }
    if classes.is_empty() {
        return 0.0;
    }
    let t = top + sum - top / ((top_at + 1) * (top_at + 1)) as f32;
    (f64::from(t) / 1.644_934_066_85) as f32
}

/// Brings the index rows of `articles` in line with them: removes every row they have and writes
/// new ones for those that are [`indexable`]. Reads their tags and sources; one batch of
/// statements whatever the number of articles.
pub async fn index_articles<C: ConnectionTrait>(
    db: &C,
    segmenter: &Segmenter,
    articles: &[article::Model],
) -> Result<()> {
    if articles.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = articles.iter().map(|a| a.id).collect();
    forget(db, &ids).await?;
    let indexed: Vec<&article::Model> = articles.iter().filter(|a| indexable(a.status)).collect();
    if indexed.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = indexed.iter().map(|a| a.id).collect();
    let tags = catalog::tags_of_articles(db, &ids).await?;
    let source_ids: Vec<i64> = indexed.iter().filter_map(|a| a.source_id).collect();
    let sources: HashMap<i64, String> = catalog::sources_by_ids(db, &source_ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let documents: Vec<Document> = indexed
        .iter()
        .map(|a| {
            let names: Vec<String> = tags
                .get(&a.id)
                .into_iter()
                .flatten()
                .map(|t| t.name.clone())
                .collect();
            let source = a
                .source_id
                .and_then(|id| sources.get(&id))
                .map(String::as_str);
            Document::build(segmenter, a, &names, source)
        })
        .collect();
    for chunk in documents.chunks(ROWS_PER_INSERT) {
        write(db, chunk).await?;
    }
    Ok(())
}

/// Rewrites the index rows of the articles that meet `condition`, in batches: for the articles of
/// a renamed source or a renamed or deleted tag, whose names they are found by.
pub async fn reindex_where<C: ConnectionTrait>(
    db: &C,
    segmenter: &Segmenter,
    condition: sea_orm::Condition,
) -> Result<()> {
    let mut after = 0;
    loop {
        let batch = article::Entity::find()
            .filter(condition.clone())
            .filter(article::Column::Id.gt(after))
            .order_by_asc(article::Column::Id)
            .limit(BATCH as u64)
            .all(db)
            .await?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = last.id;
        index_articles(db, segmenter, &batch).await?;
    }
}

/// Articles per batch when many are rewritten at once.
const BATCH: usize = 500;

/// Rebuilds the whole index from the articles, `batch` articles per transaction, calling
/// `progress(done, total)` after each batch; returns how many articles were read. Readers keep
/// finding everything meanwhile: each article's rows are replaced, never the whole index cleared.
pub async fn rebuild<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    batch: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64> {
    let total = article::Entity::find().count(db).await?;
    let mut done = 0;
    let mut after = 0;
    loop {
        // Read, cut and write in one transaction, so an editor's save of an article in the batch
        // either comes before (and is what the batch reads) or after (and rewrites its rows).
        let txn = crate::db::begin_write(db).await?;
        let rows = article::Entity::find()
            .filter(article::Column::Id.gt(after))
            .order_by_asc(article::Column::Id)
            .limit(batch.max(1))
            .all(&txn)
            .await?;
        let Some(last) = rows.last() else {
            txn.commit().await?;
            optimize(db).await?;
            return Ok(done);
        };
        after = last.id;
        index_articles(&txn, segmenter, &rows).await?;
        txn.commit().await?;
        done += rows.len() as u64;
        progress(done, total.max(done));
    }
}

/// After a rebuild: merges SQLite's FTS5 segments (each batch wrote its own), which makes reads
/// several times faster than leaving it to the incremental merges. PostgreSQL needs nothing.
async fn optimize<C: ConnectionTrait>(db: &C) -> Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        for table in ["article_search", "article_search_rank"] {
            db.execute_unprepared(&format!(
                "INSERT INTO {table} ({table}) VALUES ('optimize')"
            ))
            .await?;
        }
    }
    Ok(())
}

/// Whether the index is empty while articles that belong in it exist: a database whose articles
/// were written before the index (or by something other than the domain), which only a
/// [`rebuild`] makes findable.
pub async fn needs_rebuild<C: ConnectionTrait>(db: &C) -> Result<bool> {
    let backend = db.get_database_backend();
    let any_row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT 1 AS present FROM article_search LIMIT 1",
        ))
        .await?
        .is_some();
    if any_row {
        return Ok(false);
    }
    let any_article = article::Entity::find()
        .select_only()
        .column(article::Column::Id)
        .filter(article::Column::Status.is_in([ArticleStatus::Published, ArticleStatus::Scheduled]))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(any_article.is_some())
}

/// Removes the index rows of `ids`.
async fn forget<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<()> {
    let backend = db.get_database_backend();
    let list = vec!["?"; ids.len()].join(", ");
    let tables: &[(&str, &str)] = match backend {
        DbBackend::Sqlite => &[
            ("article_search", "rowid"),
            ("article_search_rank", "rowid"),
        ],
        _ => &[
            ("search_postings", "article_id"),
            ("article_search", "article_id"),
        ],
    };
    for (table, key) in tables {
        let sql = format!("DELETE FROM {table} WHERE {key} IN ({list})");
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            crate::db::placeholders(backend, &sql),
            ids.iter().map(|&id| Value::from(id)),
        ))
        .await?;
    }
    Ok(())
}

/// Inserts the rows of `documents`, which have none yet.
async fn write<C: ConnectionTrait>(db: &C, documents: &[Document]) -> Result<()> {
    let backend = db.get_database_backend();
    let mut statements = Vec::new();
    match backend {
        DbBackend::Sqlite => {
            let mut words = Vec::new();
            let mut ranks = Vec::new();
            for d in documents {
                words.extend([Value::from(d.id), d.all_words().join(" ").into()]);
                ranks.push(Value::from(d.id));
                ranks.extend(d.ranked_fields().map(|(w, _)| Value::from(w.join(" "))));
            }
            statements.push(insert(
                "article_search (rowid, words)",
                2,
                documents.len(),
                words,
            ));
            statements.push(insert(
                "article_search_rank (rowid, title, lead, tags, source, keywords)",
                6,
                documents.len(),
                ranks,
            ));
        }
        _ => {
            let mut values = Vec::new();
            let mut postings = Vec::new();
            for d in documents {
                values.extend([Value::from(d.id), lexeme_list(&d.all_words()).into()]);
                for (word, score) in d.postings() {
                    postings.extend([d.id.into(), word.into(), score.into(), d.at.into()]);
                }
            }
            let mut sql = insert(
                "article_search (article_id, document)",
                2,
                documents.len(),
                values,
            );
            // The vector is a tsvector literal, built here word by word: no parser in between.
            sql.0 = sql.0.replace("(?, ?)", "(?, ?::tsvector)");
            statements.push(sql);
            // A few dozen postings an article: chunked to stay far below the bound-value limit.
            for chunk in postings.chunks(4 * POSTINGS_PER_INSERT) {
                statements.push(insert(
                    "search_postings (article_id, word, score, published_at)",
                    4,
                    chunk.len() / 4,
                    chunk.to_vec(),
                ));
            }
        }
    }
    for (sql, values) in statements {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            crate::db::placeholders(backend, &sql),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// `INSERT INTO {target} VALUES (?, ...), ...` for `rows` rows of `columns` values.
fn insert(target: &str, columns: usize, rows: usize, values: Vec<Value>) -> (String, Vec<Value>) {
    let row = format!("({})", vec!["?"; columns].join(", "));
    (
        format!("INSERT INTO {target} VALUES {}", vec![row; rows].join(", ")),
        values,
    )
}

/// A word as a tsvector or tsquery lexeme: quoted, so that nothing in it is syntax.
pub(super) fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// The distinct words as a tsvector literal without positions: for matching only.
fn lexeme_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| lexeme(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexemes_are_quoted_whatever_they_hold() {
        assert_eq!(lexeme("数字经济"), "'数字经济'");
        assert_eq!(lexeme("a'b\\c"), "'a''b\\\\c'");
    }

    #[test]
    fn postings_score_as_postgres_ts_rank_does() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let d = Document {
            id: 1,
            at: DateTime::UNIX_EPOCH,
            title: words("双过半 大会"),
            lead: words("赵海东 讲话"),
            tags: words("双过半"),
            source: words("南昌开发区"),
            body: words("招商引资 招商引资 招商引资 一次"),
            keywords: words("招商引资 招商引资 招商引资 未切出"),
        };
        // Each expected score is what PostgreSQL 15 answered for
        // `ts_rank('{0.1,0.2,0.4,1.0}', <the record as a tsvector>, '<word>')`.
        assert_eq!(
            d.postings(),
            [
                ("南昌开发区", f64::from(0.121_585_42_f32)),
                ("双过半", f64::from(0.668_719_77_f32)),
                ("大会", f64::from(0.607_927_1_f32)),
                ("招商引资", f64::from(0.082_745_634_f32)),
                ("讲话", f64::from(0.243_170_84_f32)),
                ("赵海东", f64::from(0.243_170_84_f32)),
            ],
            "a keyword the article does not hold (未切出) gets no posting"
        );
        // The heaviest occurrence need not be the first: '<w>':2A,3D,4A,10B.
        let classes = [Class::A, Class::D, Class::A, Class::B];
        assert_eq!(term_score(&classes), 0.705_870_9_f32);
        assert_eq!(term_score(&[]), 0.0);
        assert_eq!(d.all_words().len(), 7);
    }
}
