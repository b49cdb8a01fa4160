//! `make bench`, part two: views ingested per second through the HTTP beacon, and the latency of
//! the click ranking over 100,000 articles and about 10 million views, cached and on a miss. On
//! SQLite and, when `TEST_POSTGRES_URL` is set, PostgreSQL. The load generator runs in this
//! process against the real server on 127.0.0.1, bounded in time; timings are printed, never
//! asserted. After the beacon run the server is stopped gracefully and the stored total is
//! compared with the number of accepted views.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::TimeDelta;
use newsroom_domain::{
    clock::ManualClock,
    entities::article,
    views::{self, RankingWindow},
};
use newsroom_gateway::{
    graphql::ids::{Kind, encode},
    views::{ViewService, ViewSettings, visible_in_order},
};
use newsroom_tests::{BROWSER, Backend, TestApp, TestDb, corpus};
use sea_orm::EntityTrait;

const BEACON_SECONDS: u64 = 10;
const CONCURRENCY: usize = 64;

fn main() -> anyhow::Result<()> {
    let banner =
        format!("views benchmark: {CONCURRENCY} concurrent beacon clients for {BEACON_SECONDS} s");
    newsroom_tests::bench::on_each_backend(&banner, |backend| async move {
        beacon(backend).await?;
        ranking(backend).await
    })
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn beacon(backend: Backend) -> anyhow::Result<()> {
    let mut app = TestApp::spawn_with(backend, true, |c| {
        c.workers = 0;
        c.view_flush_ms = 1000;
    })
    .await?;
    let ids: Vec<i64> = article::Entity::find()
        .all(&app.db)
        .await?
        .into_iter()
        .map(|a| a.id)
        .take(200)
        .collect();
    let paths: Arc<Vec<String>> = Arc::new(
        ids.iter()
            .map(|id| {
                format!(
                    "{}/api/v1/articles/{}/views",
                    app.address,
                    encode(Kind::Article, *id).0
                )
            })
            .collect(),
    );
    let before: i64 = article::Entity::find()
        .all(&app.db)
        .await?
        .iter()
        .map(|a| a.view_count)
        .sum();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .user_agent(BROWSER)
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let (client, paths, stop) = (client.clone(), paths.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let path = &paths[(worker * 7919 + n) % paths.len()];
                let sent = Instant::now();
                let result = client
                    .post(path)
                    .header("x-visitor-id", format!("bench-{worker}-{n}"))
                    .send()
                    .await;
                latencies.push(sent.elapsed());
                match result {
                    Ok(r) if r.status() == 204 => ok += 1,
                    _ => errors += 1,
                }
                n += 1;
            }
            (latencies, ok, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(BEACON_SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let (mut ok, mut errors) = (0u64, 0u64);
    for task in tasks {
        let (l, o, e) = task.await?;
        latencies.extend(l);
        ok += o;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    app.stop().await?;
    let after: i64 = article::Entity::find()
        .all(&app.db)
        .await?
        .iter()
        .map(|a| a.view_count)
        .sum();
    println!(
        "\n{backend:?} beacon: {:.0} views/s accepted ({ok} in {elapsed:.1} s), {errors} errors, p50 {:.2} ms, p99 {:.2} ms; stored after graceful stop: {} ({})",
        ok as f64 / elapsed,
        pct(&latencies, 0.50),
        pct(&latencies, 0.99),
        after - before,
        if after - before == ok as i64 {
            "exact"
        } else {
            "MISMATCH"
        }
    );
    Ok(())
}

async fn ranking(backend: Backend) -> anyhow::Result<()> {
    let (test_db, db) = TestDb::create(backend).await?;
    let started = Instant::now();
    let (_, now) = corpus::seed(&db).await?;
    let rows = corpus::seed_views(&db, now, 10_000_000).await?;
    let total: i64 = article::Entity::find()
        .all(&db)
        .await?
        .iter()
        .map(|a| a.view_count)
        .sum();
    println!(
        "{backend:?} ranking corpus: {} articles, {rows} bucket rows, {total} views, seeded in {:.1} s",
        corpus::ARTICLES,
        started.elapsed().as_secs_f64()
    );
    for window in [
        RankingWindow::Day,
        RankingWindow::Week,
        RankingWindow::Month,
    ] {
        let t = Instant::now();
        views::advance(&db, now, window).await?;
        println!(
            "  build {window:?}: {:.0} ms (the window's totals summed from every bucket, once)",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    for window in [
        RankingWindow::Day,
        RankingWindow::Week,
        RankingWindow::Month,
    ] {
        let mut times = Vec::new();
        // Each hour ahead moves the window on by one hour of buckets, as each hour does live.
        for hour in 1..=24 {
            let t = Instant::now();
            views::advance(&db, now + TimeDelta::hours(hour), window).await?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  hourly move {window:?}: p50 {:.2} ms, max {:.2} ms (once an hour, by the first miss or the periodic job)",
            pct(&times, 0.5),
            pct(&times, 1.0)
        );
        views::advance(&db, now, window).await?;
    }
    for window in [
        RankingWindow::Day,
        RankingWindow::Week,
        RankingWindow::Month,
        RankingWindow::All,
    ] {
        let mut times = Vec::new();
        for i in 0..510 {
            let t = Instant::now();
            let ranked = views::ranking(&db, now, window, None, 100).await?;
            if i >= 10 {
                times.push(t.elapsed());
            }
            anyhow::ensure!(!ranked.is_empty(), "empty ranking");
        }
        times.sort();
        println!(
            "  miss  {window:?}: p50 {:.2} ms, p99 {:.2} ms (the ranking query, top 100)",
            pct(&times, 0.5),
            pct(&times, 0.99)
        );
    }
    let clock = ManualClock::new(now);
    let service = ViewService::new(
        db.clone(),
        Arc::new(clock),
        ViewSettings {
            window: TimeDelta::minutes(30),
            flush_every: Duration::from_secs(3600),
            totals_every: Duration::from_secs(3600),
            ranking_refresh: Duration::from_secs(3600),
            redis_url: None,
            redis_prefix: "bench".into(),
            max_buffered: 100_000,
            recheck: Duration::from_secs(5),
        },
    )
    .await?;
    service
        .ranking(RankingWindow::Week, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut times = Vec::new();
    for _ in 0..5_000 {
        let t = Instant::now();
        let ranked = service
            .ranking(RankingWindow::Week, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let top = visible_in_order(
            &db,
            now,
            newsroom_domain::articles::Audience::Reader,
            &ranked,
            10,
        )
        .await?;
        times.push(t.elapsed());
        anyhow::ensure!(top.len() == 10, "short ranking");
    }
    times.sort();
    println!(
        "  cached WEEK top 10 with articles: p50 {:.3} ms, p99 {:.3} ms (cache hit plus one lookup of the 10 rows by id)",
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
    db.close().await.context("close")?;
    drop(test_db);
    Ok(())
}
