//! `make bench`: search over 100,000 articles of Chinese news text, on SQLite and, when
//! `TEST_POSTGRES_URL` is set, on PostgreSQL (in a database of its own, dropped afterwards).
//!
//! It times what the `search` resolver runs for a page of 20 (the matching, ranking and paging
//! query; then the snippets, computed in the process) for one-word, two-word and no-result
//! queries, and what indexing costs a write: the index rows of one article rewritten, and a whole
//! editorial save with them. Timings are printed, never asserted.

use std::time::Instant;

use chrono::TimeDelta;
use newsroom_domain::{
    articles::ArticleFilter,
    editorial::{self, Actor, ArticlePatch},
    entities::{Role, article},
    pagination::PageRequest,
    search::{self, Highlight, SearchQuery},
    users,
};
use newsroom_tests::{
    Backend, TestDb,
    bench::{self, report},
    corpus::{self, ARTICLES, CITIES, INDUSTRIES},
    segmenter,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

/// Makes a query of one kind.
type MakeQuery = Box<dyn Fn(&mut StdRng) -> String>;

const ITERATIONS: usize = 1_000;
const WRITES: usize = 200;

fn main() -> anyhow::Result<()> {
    bench::on_each_backend(
        &format!("search benchmark: {ARTICLES} articles, {ITERATIONS} queries per kind"),
        run,
    )
}

async fn run(backend: Backend) -> anyhow::Result<()> {
    let (test_db, db) = TestDb::create(backend).await?;
    let started = Instant::now();
    let (_, now) = corpus::seed(&db).await?;
    println!(
        "\n{backend:?}: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let indexed = corpus::index(&db).await?;
    println!(
        "  indexed {indexed} articles in {:.1} s (newsroom reindex)",
        started.elapsed().as_secs_f64()
    );
    let segmenter = segmenter()?;
    let filter = ArticleFilter::default();
    let page = PageRequest::first(20);
    let mut rng = StdRng::seed_from_u64(11);

    let kinds: [(&str, MakeQuery); 3] = [
        (
            "one word (a city, ~1 in 30 articles)",
            Box::new(|rng: &mut StdRng| CITIES.choose(rng).copied().unwrap_or_default().to_owned()),
        ),
        (
            "two words (city + industry, ~1 in 600)",
            Box::new(|rng: &mut StdRng| {
                format!(
                    "{} {}",
                    CITIES.choose(rng).copied().unwrap_or_default(),
                    INDUSTRIES.choose(rng).copied().unwrap_or_default()
                )
            }),
        ),
        (
            "no result",
            Box::new(|_: &mut StdRng| "元宇宙区块链".to_owned()),
        ),
    ];
    for (name, make) in &kinds {
        let queries: Vec<SearchQuery> = (0..ITERATIONS)
            .map(|_| SearchQuery::parse(&segmenter, &make(&mut rng)))
            .collect::<Result<_, _>>()?;
        let mut matched = 0;
        let mut query_times = Vec::with_capacity(ITERATIONS);
        let mut page_times = Vec::with_capacity(ITERATIONS);
        for (i, q) in queries.iter().cycle().take(ITERATIONS + 50).enumerate() {
            let start = Instant::now();
            let hits = search::search(
                &db,
                now,
                newsroom_domain::articles::Audience::Reader,
                q,
                &filter,
                &page,
            )
            .await?;
            let queried = start.elapsed();
            for hit in &hits.items {
                std::hint::black_box(search::snippet(
                    &segmenter,
                    &hit.article,
                    q.words(),
                    &Highlight::default(),
                ));
            }
            if i >= 50 {
                query_times.push(queried);
                page_times.push(start.elapsed());
                matched += hits.items.len();
            }
        }
        println!(
            "  {name}: {:.1} hits a page",
            matched as f64 / ITERATIONS as f64
        );
        report("  search query, page of 20", &mut query_times);
        report("  with the 20 snippets", &mut page_times);
    }

    // The cost of indexing on write: one article's index rows rewritten (cut, then written), and
    // a whole editorial save of a new body, which does the same inside its transaction.
    let ids: Vec<i64> = article::Entity::find()
        .filter(article::Column::Slug.starts_with("bench-"))
        .all(&db)
        .await?
        .into_iter()
        // Featured ones need a cover image to be saved, which the corpus does not give them.
        .filter(|a| search::index::indexable(a.status) && !a.featured)
        .map(|a| a.id)
        .take(WRITES * 2)
        .collect();
    let mut index_times = Vec::with_capacity(WRITES);
    for id in &ids[..WRITES] {
        let a = article::Entity::find_by_id(*id).one(&db).await?;
        let start = Instant::now();
        let txn = db.begin().await?;
        search::index_articles(&txn, &segmenter, a.as_slice()).await?;
        txn.commit().await?;
        index_times.push(start.elapsed());
    }
    report("index rows of one article rewritten", &mut index_times);

    let user = users::create(
        &db,
        "bench-editor",
        "bench-password-long-enough",
        Role::Editor,
        now,
    )
    .await?;
    let actor = Actor { user_id: user.id };
    let mut save_times = Vec::with_capacity(WRITES);
    for id in &ids[WRITES..] {
        let a = article::Entity::find_by_id(*id)
            .one(&db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("article"))?;
        let patch = ArticlePatch {
            body: Some(format!(
                "{}\n\n补充报道：记者{}日获悉，项目进展顺利。",
                a.body,
                rng.random_range(1..28)
            )),
            ..ArticlePatch::default()
        };
        let start = Instant::now();
        editorial::update(
            &db,
            &segmenter,
            actor,
            now + TimeDelta::seconds(1),
            a.id,
            a.version,
            patch,
        )
        .await?;
        save_times.push(start.elapsed());
    }
    report(
        "  editorial save of a new body, index included",
        &mut save_times,
    );
    db.close().await?;
    // `BENCH_KEEP_DB=1` leaves the database behind for a look at its query plans.
    if std::env::var_os("BENCH_KEEP_DB").is_some() {
        println!("  kept the database: {}", test_db.url);
        std::mem::forget(test_db);
    }
    Ok(())
}
