//! `make bench`: read-path latency at the database level over 100,000 articles, on SQLite and,
//! when `TEST_POSTGRES_URL` is set, on PostgreSQL (in a database of its own, dropped afterwards).
//!
//! It measures exactly the statements the GraphQL resolvers run: the home page (20 newest
//! articles with their channels, sources and tags, as the dataloaders batch them) and an article
//! by slug (the article, its source, its tags and 10 related articles), over random slugs.
//! Timings are printed, never asserted.

use std::time::{Duration, Instant};

use anyhow::Context;
use newsroom_domain::{
    articles::{self, ArticleFilter, ArticleOrder, Audience, Columns},
    catalog,
    pagination::PageRequest,
};
use newsroom_tests::{
    Backend, TestDb, bench,
    corpus::{self, ARTICLES},
};
use rand::{SeedableRng, rngs::StdRng, seq::IndexedRandom};

const ITERATIONS: usize = 2_000;

fn main() -> anyhow::Result<()> {
    bench::on_each_backend(
        &format!("read-path benchmark: {ARTICLES} articles, {ITERATIONS} iterations per query"),
        run,
    )
}

async fn run(backend: Backend) -> anyhow::Result<()> {
    let (test_db, db) = TestDb::create(backend).await?;
    let started = Instant::now();
    let (slugs, now) = corpus::seed(&db).await?;
    println!(
        "\n{backend:?}: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(7);

    let mut home = measure(|| async {
        let page = articles::list(
            &db,
            now,
            Audience::Reader,
            &ArticleFilter::default(),
            ArticleOrder::Newest,
            &PageRequest::first(20),
            Columns::WithoutBody,
        )
        .await?;
        let channel_ids: Vec<i64> = page.items.iter().map(|a| a.channel_id).collect();
        let source_ids: Vec<i64> = page.items.iter().filter_map(|a| a.source_id).collect();
        let article_ids: Vec<i64> = page.items.iter().map(|a| a.id).collect();
        catalog::channels_by_ids(&db, &channel_ids).await?;
        catalog::sources_by_ids(&db, &source_ids).await?;
        catalog::tags_of_articles(&db, &article_ids).await?;
        anyhow::ensure!(page.items.len() == 20, "home page short");
        Ok(())
    })
    .await?;
    bench::report("home page: 20 newest + channels, sources, tags", &mut home);

    let picks: Vec<String> = (0..ITERATIONS)
        .filter_map(|_| slugs.choose(&mut rng).cloned())
        .collect();
    let mut next = picks.iter().cycle();
    let mut by_slug = measure(|| {
        let slug = next.next().cloned().unwrap_or_default();
        let db = &db;
        async move {
            let a = articles::by_slug(db, now, Audience::Reader, &slug)
                .await?
                .context("article")?;
            if let Some(source) = a.source_id {
                catalog::sources_by_ids(db, &[source]).await?;
            }
            catalog::tags_of_articles(db, &[a.id]).await?;
            let related =
                articles::related(db, now, Audience::Reader, &a, 10, Columns::WithoutBody).await?;
            anyhow::ensure!(related.len() == 10, "related short");
            Ok(())
        }
    })
    .await?;
    bench::report("article by slug + source, tags, 10 related", &mut by_slug);

    let mut deep = measure(|| async {
        let filter = ArticleFilter {
            channel: Some("channel-07".into()),
            ..ArticleFilter::default()
        };
        articles::list(
            &db,
            now,
            Audience::Reader,
            &filter,
            ArticleOrder::Newest,
            &PageRequest::first(20),
            Columns::WithoutBody,
        )
        .await?;
        Ok(())
    })
    .await?;
    bench::report("channel page: 20 newest in one channel", &mut deep);
    db.close().await?;
    drop(test_db);
    Ok(())
}

async fn measure<F, Fut>(mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..50 {
        f().await?;
    }
    let mut times = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f().await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}
