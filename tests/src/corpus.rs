//! A large corpus for benchmarks: articles with realistic Chinese bodies, channels, sources,
//! tags, and (optionally) view buckets, written in bulk.

use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::entities::{
    ArticleKind, ArticleStatus, BodyFormat, License, article, article_tag, channel, source, tag,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, Statement, TransactionTrait,
};

/// Articles in the corpus.
pub const ARTICLES: usize = 100_000;
const CHANNELS: usize = 50;
const SOURCES: usize = 200;
const TAGS: usize = 2_000;
const TAGS_PER_ARTICLE: usize = 5;
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

/// Where the corpus's news happens: each article is about one city's one industry, so that a
/// city's name is in about one article in 30 and a city with an industry in one in 600, the way a
/// place or a company turns up in a real news archive.
pub const CITIES: &[&str] = &[
    "南昌",
    "赣州",
    "九江",
    "上饶",
    "宜春",
    "吉安",
    "抚州",
    "景德镇",
    "萍乡",
    "新余",
    "鹰潭",
    "长沙",
    "武汉",
    "合肥",
    "杭州",
    "苏州",
    "无锡",
    "宁波",
    "厦门",
    "福州",
    "广州",
    "深圳",
    "东莞",
    "佛山",
    "成都",
    "重庆",
    "西安",
    "郑州",
    "青岛",
    "济南",
];

/// What the corpus's articles report on, one per article.
pub const INDUSTRIES: &[&str] = &[
    "新能源汽车",
    "锂电池",
    "光伏",
    "氢燃料电池",
    "集成电路",
    "人工智能",
    "工业互联网",
    "生物医药",
    "医疗器械",
    "智能家电",
    "稀土材料",
    "有色金属",
    "航空制造",
    "轨道交通",
    "跨境电商",
    "现代物流",
    "文化旅游",
    "绿色食品",
    "陶瓷",
    "纺织服装",
];

/// Sentences about one city's industry, `{c}` the city and `{i}` the industry.
const TOPIC_SENTENCES: &[&str] = &[
    "{c}{i}产业园今年新签约项目12个，总投资超过80亿元。",
    "{c}市出台支持{i}产业高质量发展的若干措施，从用地、融资和人才等方面给予支持。",
    "据{c}市统计局数据，上半年{i}产业产值同比增长18.6%，高于全市工业平均水平。",
    "{c}一家{i}龙头企业的新生产线近日投产，达产后年产值可达15亿元。",
    "业内人士认为，{c}发展{i}产业具有区位、配套和人才优势，后劲十足。",
    "记者从{c}市工信部门获悉，当地正加快建设{i}产业链，推动上下游企业集聚发展。",
];

/// Writes the corpus in bulk and returns the visible article slugs and a "now" after them all.
/// The search index stays empty; [`index`] fills it.
pub async fn seed(db: &DatabaseConnection) -> anyhow::Result<(Vec<String>, DateTime<Utc>)> {
    seed_articles(db, ARTICLES).await
}

/// [`seed`] with `articles` articles (slugs `bench-000000`, `bench-000001`, ...; every 50th a
/// draft) instead of [`ARTICLES`].
pub async fn seed_articles(
    db: &DatabaseConnection,
    articles: usize,
) -> anyhow::Result<(Vec<String>, DateTime<Utc>)> {
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

    let mut slugs = Vec::with_capacity(articles);
    let mut last = start;
    for chunk in (0..articles).collect::<Vec<_>>().chunks(CHUNK) {
        let rows: Vec<article::ActiveModel> = chunk
            .iter()
            .map(|i| {
                let at = start + TimeDelta::seconds(*i as i64 * 60 + rng.random_range(0..60));
                last = last.max(at);
                let city = CITIES.choose(&mut rng).copied().unwrap_or_default();
                let industry = INDUSTRIES.choose(&mut rng).copied().unwrap_or_default();
                let topic = |rng: &mut StdRng| {
                    TOPIC_SENTENCES
                        .choose(rng)
                        .copied()
                        .unwrap_or_default()
                        .replace("{c}", city)
                        .replace("{i}", industry)
                };
                let mut body = String::new();
                let size = rng.random_range(3_000..5_000);
                while body.len() < size {
                    if rng.random_bool(0.3) {
                        body.push_str(&topic(&mut rng));
                    } else {
                        body.push_str(SENTENCES.choose(&mut rng).copied().unwrap_or_default());
                    }
                    if rng.random_bool(0.2) {
                        body.push_str("\n\n");
                    }
                }
                let slug = format!("bench-{i:06}");
                slugs.push(slug.clone());
                article::ActiveModel {
                    slug: Set(slug),
                    title: Set(format!("{}（{i}）", topic(&mut rng).trim_end_matches('。'))),
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
    // Fresh statistics, as autovacuum (PostgreSQL) or a maintenance run (SQLite) would leave.
    db.execute_unprepared("ANALYZE").await?;
    // Visible slugs only: drafts are every 50th.
    let visible = slugs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 50 != 0)
        .map(|(_, s)| s)
        .collect();
    Ok((visible, last + TimeDelta::seconds(1)))
}

/// Builds the search index of the corpus, as `newsroom reindex` does.
pub async fn index(db: &DatabaseConnection) -> anyhow::Result<u64> {
    let segmenter = crate::segmenter()?;
    let indexed = newsroom_domain::search::rebuild(db, &segmenter, 1_000, |_, _| ()).await?;
    // What autovacuum does on a live site soon after a bulk load: statistics for the planner,
    // and on PostgreSQL the visibility map, without which an index-only scan (the postings')
    // still visits the heap for every row.
    let steady = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(steady).await?;
    Ok(indexed)
}

/// Writes about `total_views` views into the hourly and daily buckets over the 90 days before
/// `now`, news-shaped: most of an article's views in the days after it is published. Returns the
/// number of bucket rows written.
pub async fn seed_views(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    total_views: i64,
) -> anyhow::Result<u64> {
    let backend = db.get_database_backend();
    let mut rng = StdRng::seed_from_u64(90);
    let now_hour = newsroom_domain::views::hour_of(now);
    let ids: Vec<i64> = article::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let per_article = (total_views / ids.len().max(1) as i64).max(1);
    let txn = db.begin().await?;
    let mut rows = 0u64;
    let mut batch: Vec<String> = Vec::with_capacity(CHUNK);
    let flush = |batch: &mut Vec<String>| {
        let sql = format!(
            "INSERT INTO article_view_buckets (article_id, span, bucket_hour, views) VALUES {} ON CONFLICT DO NOTHING",
            batch.join(", ")
        );
        batch.clear();
        Statement::from_string(backend, sql)
    };
    for id in ids {
        // Ten buckets an article: hourly ones in the last two days, daily ones before.
        let start = now_hour - rng.random_range(0..90 * 24);
        for k in 0..10i64 {
            let (span, hour) = if now_hour - start < 48 {
                (1, (start + k).min(now_hour))
            } else {
                (24, ((start + k * 24) / 24 * 24).min(now_hour - 48))
            };
            let views = rng.random_range(1..=per_article / 5 + 1);
            batch.push(format!("({id}, {span}, {hour}, {views})"));
            rows += 1;
            if batch.len() >= CHUNK {
                txn.execute_raw(flush(&mut batch)).await?;
            }
        }
    }
    if !batch.is_empty() {
        txn.execute_raw(flush(&mut batch)).await?;
    }
    txn.execute_unprepared(
        "UPDATE articles SET view_count = (SELECT COALESCE(SUM(views), 0) FROM article_view_buckets b WHERE b.article_id = articles.id)",
    )
    .await?;
    txn.commit().await?;
    newsroom_domain::views::reset_windows(db).await?;
    db.execute_unprepared("ANALYZE").await?;
    Ok(rows)
}
