//! `make bench`: read-path latency at the database level over 100,000 articles, on SQLite and,
//! when `TEST_POSTGRES_URL` is set, on PostgreSQL (in a database of its own, dropped afterwards).
//!
//! It measures exactly the statements the GraphQL resolvers run: the home page (20 newest
//! articles with their channels, sources and tags, as the dataloaders batch them) and an article
//! by slug (the article, its source, its tags and 10 related articles), over random slugs.
//! Timings are printed, never asserted.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::{
    articles::{self, ArticleFilter, ArticleOrder, Audience},
    catalog,
    entities::{
        ArticleKind, ArticleStatus, BodyFormat, License, article, article_tag, channel, source, tag,
    },
    pagination::PageRequest,
};
use newsroom_tests::{Backend, TestDb, postgres_configured};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait};

const ARTICLES: usize = 100_000;
const CHANNELS: usize = 50;
const SOURCES: usize = 200;
const TAGS: usize = 2_000;
const TAGS_PER_ARTICLE: usize = 5;
const ITERATIONS: usize = 2_000;
const CHUNK: usize = 500;

/// Sentences from the seed page, recombined into 3-5 KB bodies.
const SENTENCES: &[&str] = &[
    "2020年，面对突如其来的疫情，全区上下团结一心，攻坚克难。",
    "上半年，全区经济发展保持韧劲，工业指标止跌回升、固定资产投资平稳增长、财政收入降幅收窄。",
    "产业项目招大引强，新增签约28个，签约合同金额近400亿元。",
    "成功获批江西省第一批数字经济创新发展试验基地，是南昌市、赣江新区唯一一家。",
    "要坚持产业引爆、创新引领，强化实力支撑，举全区之力打造中国（南昌）数字经济港。",
    "牢记招商引资应该是开发区全部工作的生命线，全力做到“四个一批”。",
    "作为全省开放型经济的主战场，更要在对外开放上打头阵、做标兵。",
    "提升城市品质，持续优化城市公园绿地布局，加快路网建设。",
    "重点引进高端人才，将高校科研优势转化为创新优势。",
    "依靠多元化投入，探索共建、共管、共享、共赢的园区发展新路径。",
    "氢燃料电池汽车示范应用加快推进，加氢站网络逐步完善。",
    "沙蓬绿色种养产业模式带动农户增收，生态效益与经济效益同步提升。",
];

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("read-path benchmark: {ARTICLES} articles, {ITERATIONS} iterations per query, {cores} cores");
        run(Backend::Sqlite).await?;
        if postgres_configured() {
            run(Backend::Postgres).await?;
        } else {
            println!("\nPostgreSQL: skipped (set TEST_POSTGRES_URL)");
        }
        anyhow::Ok(())
    })
}

async fn run(backend: Backend) -> anyhow::Result<()> {
    let (test_db, db) = TestDb::create(backend).await?;
    let started = Instant::now();
    let (slugs, now) = seed(&db).await?;
    println!(
        "\n{backend:?}: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(7);

    let home = measure(|| async {
        let page = articles::list(
            &db,
            now,
            Audience::Reader,
            &ArticleFilter::default(),
            ArticleOrder::Newest,
            &PageRequest::first(20),
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
    report("home page: 20 newest + channels, sources, tags", &home);

    let picks: Vec<String> = (0..ITERATIONS)
        .filter_map(|_| slugs.choose(&mut rng).cloned())
        .collect();
    let mut next = picks.iter().cycle();
    let by_slug = measure(|| {
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
            let related = articles::related(db, now, &a, 10).await?;
            anyhow::ensure!(related.len() == 10, "related short");
            Ok(())
        }
    })
    .await?;
    report("article by slug + source, tags, 10 related", &by_slug);

    let deep = measure(|| async {
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
        )
        .await?;
        Ok(())
    })
    .await?;
    report("channel page: 20 newest in one channel", &deep);
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

fn report(name: &str, sorted: &[Duration]) {
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    let mean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
    println!(
        "  {name:<48} mean {:>7.3} ms  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        ms(mean),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(sorted[sorted.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes the benchmark's corpus in bulk and returns the article slugs and a "now" after them all.
async fn seed(db: &DatabaseConnection) -> anyhow::Result<(Vec<String>, DateTime<Utc>)> {
    let mut rng = StdRng::seed_from_u64(2020);
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse()?;
    let txn = db.begin().await?;
    channel::Entity::insert_many((0..CHANNELS).map(|i| channel::ActiveModel {
        slug: Set(format!("channel-{i:02}")),
        name: Set(format!("频道{i}")),
        parent_id: Set(None),
        position: Set(i as i32),
        created_at: Set(start),
        ..Default::default()
    }))
    .exec_without_returning(&txn)
    .await?;
    for chunk in (0..SOURCES).collect::<Vec<_>>().chunks(CHUNK) {
        source::Entity::insert_many(chunk.iter().map(|i| source::ActiveModel {
            slug: Set(format!("source-{i:03}")),
            name: Set(format!("来源媒体{i}")),
            homepage: Set(Some(format!("https://source-{i}.example.cn/"))),
            feed_url: Set(None),
            license: Set(if i % 3 == 0 {
                License::CcBy
            } else {
                License::AllRightsReserved
            }),
            syndication_allowed: Set(i % 3 == 0),
            disclaimer: Set(None),
            takedown_contact: Set(None),
            created_at: Set(start),
            updated_at: Set(start),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    for chunk in (0..TAGS).collect::<Vec<_>>().chunks(CHUNK) {
        tag::Entity::insert_many(chunk.iter().map(|i| tag::ActiveModel {
            slug: Set(format!("tag-{i:04}")),
            name: Set(format!("标签{i}")),
            created_at: Set(start),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    let channel_ids: Vec<i64> = channel::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let source_ids: Vec<i64> = source::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let tag_ids: Vec<i64> = tag::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();

    let mut slugs = Vec::with_capacity(ARTICLES);
    let mut last = start;
    for chunk in (0..ARTICLES).collect::<Vec<_>>().chunks(CHUNK) {
        let rows: Vec<article::ActiveModel> = chunk
            .iter()
            .map(|i| {
                let at = start + TimeDelta::seconds(*i as i64 * 60 + rng.random_range(0..60));
                last = last.max(at);
                let mut body = String::new();
                while body.len() < rng.random_range(3_000..5_000) {
                    body.push_str(SENTENCES.choose(&mut rng).copied().unwrap_or_default());
                    if rng.random_bool(0.2) {
                        body.push_str("\n\n");
                    }
                }
                let slug = format!("bench-{i:06}");
                slugs.push(slug.clone());
                article::ActiveModel {
                    slug: Set(slug),
                    title: Set(format!(
                        "{}（{i}）",
                        SENTENCES
                            .choose(&mut rng)
                            .copied()
                            .unwrap_or_default()
                            .trim_end_matches('。')
                    )),
                    lead: Set(Some(
                        SENTENCES
                            .choose(&mut rng)
                            .copied()
                            .unwrap_or_default()
                            .into(),
                    )),
                    body: Set(body),
                    body_format: Set(BodyFormat::Markdown),
                    cover_image: Set(None),
                    author: Set(None),
                    channel_id: Set(channel_ids.choose(&mut rng).copied().unwrap_or(1)),
                    source_id: Set(source_ids.choose(&mut rng).copied()),
                    original_url: Set(Some(format!("https://example.cn/{i}"))),
                    kind: Set(ArticleKind::Reprint),
                    status: Set(if i % 50 == 0 {
                        ArticleStatus::Draft
                    } else {
                        ArticleStatus::Published
                    }),
                    published_at: Set(Some(at)),
                    featured: Set(i % 7 == 0),
                    recommended: Set(i % 5 == 0),
                    disclaimer: Set(None),
                    view_count: Set(rng.random_range(0..100_000)),
                    version: Set(1),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                }
            })
            .collect();
        article::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let article_ids: Vec<i64> = article::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let links: Vec<article_tag::ActiveModel> = article_ids
        .iter()
        .flat_map(|id| {
            let picked: Vec<i64> = tag_ids
                .choose_multiple(&mut rng, TAGS_PER_ARTICLE)
                .copied()
                .collect();
            picked
                .into_iter()
                .enumerate()
                .map(move |(position, tag_id)| article_tag::ActiveModel {
                    article_id: Set(*id),
                    tag_id: Set(tag_id),
                    position: Set(position as i32),
                })
        })
        .collect();
    for chunk in links.chunks(CHUNK * 2) {
        article_tag::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    // Visible slugs only: drafts are every 50th.
    let visible = slugs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 50 != 0)
        .map(|(_, s)| s)
        .collect();
    Ok((visible, last + TimeDelta::seconds(1)))
}
