//! The hand-written part of the demo: site settings, channels, sources, tags, footer pages and
//! the article of the seed page. Texts copied from the seed page keep its punctuation byte for
//! byte, so that what the API serves can be compared with the page.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use crate::{
    entities::{ArticleKind, ArticleStatus, License},
    site::keys,
};

use super::{ArticleSpec, ChannelSpec, PageSpec, SourceSpec, TagSpec};

/// The slogan above the navigation, the seed page's first line.
pub(super) const SLOGAN: &str =
    "科技是第一生产力、人才是第一资源、创新是第一动力 加快建设科技强国,实现高水平科技自立自强";

/// The seed page's 免责声明, without its "免责声明:" prefix.
pub(super) const REPRINT_DISCLAIMER: &str = "本网转载自其它媒体的文章,目的在于弘扬科技创新精神,传递更多科技创新信息,并不代表本网赞同其观点和对其真实性负责,在此我们谨向原作者和原媒体致以敬意。如果您认为本站文章侵犯了您的版权,请与我们联系,我们将第一时间删除。";

/// The slug of the source that stands for the site's own newsroom.
pub(super) const OWN_SOURCE: &str = "benzhan";

/// `(key, value)` of every site setting.
pub(super) const SETTINGS: &[(&str, &str)] = &[
    (keys::NAME, "科创资讯网"),
    (keys::SLOGAN, SLOGAN),
    (keys::BASE_URL, "http://127.0.0.1:8080"),
    (keys::ICP_FILING, "粤ICP备05102027号"),
    (keys::PUBLIC_SECURITY_FILING, "粤公网安备 44040202001358号"),
    (keys::REPRINT_DISCLAIMER, REPRINT_DISCLAIMER),
    (
        keys::SPONSORED_DISCLAIMER,
        "本文为推广内容，由合作方提供并付费发布，不代表本网观点，仅供读者参考。本网不对其中涉及的产品、服务或投资建议作任何保证，请读者自行甄别。",
    ),
    (keys::TAKEDOWN_CONTACT, "copyright@kechuang.example.cn"),
];

/// The navigation row of the seed page, then 园区's two sub-channels. Parents come before their
/// children so that one pass can resolve every parent.
pub(super) const CHANNELS: &[ChannelSpec] = &[
    ChannelSpec {
        slug: "hydrogen",
        name: "氢能科技",
        parent: None,
        position: 1,
    },
    ChannelSpec {
        slug: "green-farming",
        name: "沙蓬绿色种养产业模式",
        parent: None,
        position: 2,
    },
    ChannelSpec {
        slug: "lianyuan",
        name: "联源科技",
        parent: None,
        position: 3,
    },
    ChannelSpec {
        slug: "chaolian",
        name: "超联科技",
        parent: None,
        position: 4,
    },
    ChannelSpec {
        slug: "parks",
        name: "园区",
        parent: None,
        position: 5,
    },
    ChannelSpec {
        slug: "park-news",
        name: "园区动态",
        parent: Some("parks"),
        position: 1,
    },
    ChannelSpec {
        slug: "park-investment",
        name: "园区招商",
        parent: Some("parks"),
        position: 2,
    },
];

/// The site itself, the seed page's source, and fictional media covering every license and both
/// syndication answers.
pub(super) const SOURCES: &[SourceSpec] = &[
    SourceSpec {
        slug: OWN_SOURCE,
        name: "本站",
        homepage: Some("https://www.kechuang.example.cn/"),
        feed_url: None,
        feed_channel: None,
        license: License::Own,
        syndication_allowed: true,
        disclaimer: None,
        takedown_contact: None,
    },
    SourceSpec {
        slug: "nanchang-kaifaqu",
        name: "南昌开发区",
        homepage: Some("http://www.nanchang-kaifaqu.example.cn/"),
        feed_url: None,
        feed_channel: None,
        license: License::AllRightsReserved,
        syndication_allowed: false,
        disclaimer: None,
        takedown_contact: None,
    },
    SourceSpec {
        slug: "keji-qianyan",
        name: "科技前沿报",
        homepage: Some("https://www.kejiqianyan.example.cn/"),
        feed_url: Some("https://www.kejiqianyan.example.cn/rss.xml"),
        feed_channel: Some("park-news"),
        license: License::PermissionGranted,
        syndication_allowed: true,
        disclaimer: None,
        takedown_contact: Some("bianjibu@kejiqianyan.example.cn"),
    },
    SourceSpec {
        slug: "qingneng-zaixian",
        name: "氢能在线",
        homepage: Some("https://www.qingneng.example.com/"),
        feed_url: Some("https://www.qingneng.example.com/feed.atom"),
        feed_channel: Some("hydrogen"),
        license: License::CcBy,
        syndication_allowed: true,
        disclaimer: None,
        takedown_contact: None,
    },
    SourceSpec {
        slug: "lvse-nongye",
        name: "绿色农业观察",
        homepage: Some("https://lvsenongye.example.cn/"),
        feed_url: None,
        feed_channel: None,
        license: License::CcBySa,
        syndication_allowed: true,
        disclaimer: None,
        takedown_contact: None,
    },
    SourceSpec {
        slug: "shuzi-jingji",
        name: "数字经济周刊",
        homepage: Some("https://www.szjjzk.example.com/"),
        feed_url: Some("https://www.szjjzk.example.com/rss"),
        feed_channel: Some("park-investment"),
        license: License::AllRightsReserved,
        syndication_allowed: false,
        disclaimer: Some(
            "本文版权归数字经济周刊所有，经授权转载，仅供本网读者阅读。未经数字经济周刊书面许可，任何单位和个人不得转载、摘编或以其他方式使用。",
        ),
        takedown_contact: Some("rights@szjjzk.example.com"),
    },
    SourceSpec {
        slug: "kaifang-ziliao",
        name: "开放科技资料库",
        homepage: Some("https://data.kaifang.example.cn/"),
        feed_url: None,
        feed_channel: None,
        license: License::PublicDomain,
        syndication_allowed: true,
        disclaimer: None,
        takedown_contact: None,
    },
];

/// Keywords the generated articles draw on, and those of the seed article.
pub(super) const TAGS: &[TagSpec] = &[
    TagSpec {
        slug: "hydrogen-energy",
        name: "氢能",
    },
    TagSpec {
        slug: "fuel-cell",
        name: "燃料电池",
    },
    TagSpec {
        slug: "digital-economy",
        name: "数字经济",
    },
    TagSpec {
        slug: "investment-promotion",
        name: "招商引资",
    },
    TagSpec {
        slug: "industrial-park",
        name: "产业园区",
    },
    TagSpec {
        slug: "green-farming",
        name: "绿色种养",
    },
    TagSpec {
        slug: "talent",
        name: "人才引进",
    },
    TagSpec {
        slug: "business-environment",
        name: "营商环境",
    },
    TagSpec {
        slug: "new-infrastructure",
        name: "新基建",
    },
    TagSpec {
        slug: "tech-innovation",
        name: "科技创新",
    },
    TagSpec {
        slug: "5g",
        name: "5G",
    },
    TagSpec {
        slug: "new-energy-vehicles",
        name: "新能源汽车",
    },
    TagSpec {
        slug: "double-half",
        name: "双过半",
    },
    TagSpec {
        slug: "rural-revitalization",
        name: "乡村振兴",
    },
    TagSpec {
        slug: "desert-control",
        name: "防沙治沙",
    },
    TagSpec {
        slug: "artificial-intelligence",
        name: "人工智能",
    },
    TagSpec {
        slug: "low-carbon",
        name: "低碳发展",
    },
];

/// The footer links of the seed page that are pages (网站首页 and 网站地图 are not).
pub(super) const PAGES: &[PageSpec] = &[
    PageSpec {
        slug: "about",
        title: "关于我们",
        body: "科创资讯网是一家关注科技创新与产业发展的资讯网站，重点报道氢能、绿色种养、数字经济和产业园区建设。\n\n\
               我们既发布本站记者采写的原创稿件，也在注明来源的前提下转载其他媒体的优秀报道，力求为读者提供及时、准确、有价值的科技产业信息。\n\n\
               本网坚持“科技是第一生产力、人才是第一资源、创新是第一动力”的理念，愿与各界同仁一道，为加快建设科技强国贡献力量。",
        position: 1,
    },
    PageSpec {
        slug: "contact",
        title: "联系方式",
        body: "欢迎读者、企业和合作媒体与我们联系。\n\n\
               - 新闻线索：news@kechuang.example.cn\n\
               - 商务合作：business@kechuang.example.cn\n\
               - 版权事务：copyright@kechuang.example.cn\n\n\
               编辑部工作时间为周一至周五 9:00—18:00，我们会在两个工作日内回复您的来信。",
        position: 2,
    },
    PageSpec {
        slug: "help",
        title: "使用说明",
        body: "在页面顶部的导航栏中选择频道，即可浏览氢能科技、绿色种养、园区等栏目的最新资讯。\n\n\
               文章页的“推荐图文”“推荐资讯”由编辑挑选，“点击排行”按日、周、月统计阅读量。\n\n\
               合作伙伴可通过 GraphQL 接口、REST 接口以及 RSS、Atom 和 JSON Feed 订阅本网内容，接入方式请联系商务合作邮箱。",
        position: 3,
    },
    PageSpec {
        slug: "privacy",
        title: "隐私政策",
        body: "本网尊重并保护每一位读者的个人信息。浏览本网内容无需注册，也无需提供任何个人信息。\n\n\
               为统计文章阅读量，我们会记录匿名的访问次数，不会据此识别您的身份，也不会将其提供给任何第三方。\n\n\
               如您对本政策有任何疑问，请发送邮件至 privacy@kechuang.example.cn 与我们联系。",
        position: 4,
    },
    PageSpec {
        slug: "disclaimer",
        title: "免责声明",
        body: "本网转载自其它媒体的文章,目的在于弘扬科技创新精神,传递更多科技创新信息,并不代表本网赞同其观点和对其真实性负责,在此我们谨向原作者和原媒体致以敬意。如果您认为本站文章侵犯了您的版权,请与我们联系,我们将第一时间删除。\n\n\
               版权投诉请发送至 copyright@kechuang.example.cn，并附上权属证明和涉及文章的链接，我们将第一时间核实处理。\n\n\
               标注为推广内容的文章由合作方提供，不代表本网观点，请读者自行甄别。",
        position: 5,
    },
];

/// The body of the seed page's article: every paragraph in order, its section headings as
/// `##` headings.
const SEED_BODY: &str = include_str!("seed-article.md");

/// The article of the seed page, exactly as the page shows it.
pub(super) fn seed_article() -> crate::Result<ArticleSpec> {
    let published_at = beijing(2020, 7, 3, 8, 0, 0)?;
    Ok(ArticleSpec {
        slug: super::SEED_ARTICLE_SLUG.to_owned(),
        title: "奋力“双过半”, 勇夺“全年胜”! 南昌开发区召开2020年全区干部大会".to_owned(),
        lead: Some(
            "6月27日下午,全区干部大会顺利召开,区党工委书记赵海东出席会议并讲话,区党工委副书记程建兵主持会议。"
                .to_owned(),
        ),
        body: SEED_BODY.trim_end().to_owned(),
        cover_image: None,
        author: None,
        channel: "park-news",
        source: Some("nanchang-kaifaqu"),
        original_url: Some("http://www.nanchang-kaifaqu.example.cn/news/2020/07/03/ganbu-dahui.html".to_owned()),
        kind: ArticleKind::Reprint,
        status: ArticleStatus::Published,
        published_at,
        featured: false,
        recommended: true,
        disclaimer: None,
        view_count: 40,
        tags: vec!["double-half", "investment-promotion", "digital-economy", "industrial-park", "business-environment"],
    })
}

/// When the reference rows (channels, sources, ...) were created: before the oldest article, so
/// that nothing in the demo looks younger than what refers to it.
pub(super) fn reference_created_at() -> crate::Result<DateTime<Utc>> {
    beijing(2018, 12, 1, 9, 0, 0)
}

/// A wall-clock time in Beijing (UTC+8), as UTC.
fn beijing(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
) -> crate::Result<DateTime<Utc>> {
    FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| {
            tz.with_ymd_and_hms(year, month, day, hour, min, sec)
                .single()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            crate::Error::validation("demo", format!("invalid date {year}-{month}-{day}"))
        })
}
