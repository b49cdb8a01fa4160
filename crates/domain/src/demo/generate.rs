//! The generated part of the demo: a few hundred articles composed from channel-specific pools of
//! sentences, so that lists, rankings, feeds and search have enough to show. A fixed-seed RNG
//! keeps every run (and every machine) producing the same articles.

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use crate::entities::{ArticleKind, ArticleStatus};

use super::{ArticleSpec, fixed};

/// How many articles the demo generates.
pub(super) const COUNT: usize = 300;

/// The RNG seed; changing it changes every generated article.
pub(super) const SEED: u64 = 20_200_703;

/// How many cover images `/media/demo/` holds.
const COVERS: u32 = 12;

/// The span `published_at` is drawn from: 2019-01-01T00:00:00Z ..= 2020-12-31T23:59:59Z.
const FIRST_SECOND: i64 = 1_546_300_800;
const LAST_SECOND: i64 = 1_609_459_199;

/// What a channel's articles are made of.
struct Theme {
    /// Who the titles are about.
    orgs: &'static [&'static str],
    /// What happened to them; `org + event` is a title.
    events: &'static [&'static str],
    /// Section headings.
    headings: &'static [&'static str],
    /// Paragraphs on the channel's subject.
    paragraphs: &'static [&'static str],
    /// Tag slugs that fit the channel (at least four).
    tags: &'static [&'static str],
}

const HYDROGEN: Theme = Theme {
    orgs: &[
        "赣江氢能装备有限公司",
        "江西省氢能产业联盟",
        "南昌开发区氢能产业园",
        "华中氢燃料电池研究院",
        "洪城新能源客车公司",
        "联源科技氢能事业部",
    ],
    events: &[
        "首批氢燃料电池公交车投入运营",
        "年产万套燃料电池电堆项目开工建设",
        "加氢站示范项目通过竣工验收",
        "发布氢能产业发展白皮书",
        "与高校共建氢能联合实验室",
        "质子交换膜国产化取得新突破",
        "氢能重卡示范线路正式开通",
        "签约绿氢制备与储运一体化项目",
        "燃料电池系统通过国家强制性检验",
        "举办氢能产业链对接会",
    ],
    headings: &["项目进展", "技术突破", "产业布局", "示范应用"],
    paragraphs: &[
        "该项目总投资约12亿元，分两期建设，一期规划建设燃料电池电堆和系统生产线各一条，达产后可年产燃料电池系统5000套，实现年产值约20亿元。",
        "氢燃料电池汽车具有零排放、续航里程长、加注时间短等优点，一次加氢只需3至5分钟，续航里程可达400公里以上，特别适合公交、物流和重载运输等场景。",
        "据介绍，研发团队经过三年攻关，在膜电极、双极板和催化剂等关键材料上实现了自主可控，电堆功率密度达到每升3.5千瓦，主要性能指标达到国内领先水平。",
        "新建成的加氢站日加注能力为500公斤，可满足约40辆氢燃料电池公交车的日常运营需求，站内储氢、压缩、加注等设备均实现了国产化。",
        "业内专家指出，氢能是未来能源体系的重要组成部分，也是用能终端实现绿色低碳转型的重要载体，发展氢能产业对推动能源结构优化、促进绿色发展具有重要意义。",
        "目前，园区已集聚氢能及燃料电池上下游企业20余家，初步形成了涵盖制氢、储运、加注、电堆、系统集成和整车应用的完整产业链。",
        "在示范运营阶段，车辆将重点接受低温启动、长时间连续运行和复杂路况等方面的考验，运营数据将实时接入氢能汽车监控平台，为后续大规模推广积累经验。",
        "与传统化石能源制氢相比，利用光伏、风电等可再生能源电解水制取的“绿氢”全过程几乎不产生碳排放，但制氢成本仍然偏高，降本增效是行业面临的共同课题。",
        "会上，产业链上下游的30余家企业围绕氢气储运、关键零部件配套和应用场景开发等议题进行了深入交流，现场达成合作意向12项。",
    ],
    tags: &[
        "hydrogen-energy",
        "fuel-cell",
        "new-energy-vehicles",
        "tech-innovation",
        "low-carbon",
        "industrial-park",
    ],
};

const GREEN_FARMING: Theme = Theme {
    orgs: &[
        "沙蓬绿色种养示范基地",
        "治沙生态农业合作社",
        "西部沙产业研究中心",
        "绿洲种养循环产业园",
        "沙地生态牧业公司",
        "县农业农村局",
    ],
    events: &[
        "沙蓬种植面积突破万亩",
        "“种养结合”模式带动农户增收",
        "建成沙蓬精深加工生产线",
        "首批沙蓬米产品走上市民餐桌",
        "举办沙产业绿色发展论坛",
        "推广节水滴灌技术成效明显",
        "林下养殖试点通过专家评审",
        "与科研院所共建沙生植物种质资源库",
        "发布沙蓬绿色种养技术规程",
        "启动沙化土地综合治理项目",
    ],
    headings: &["生态效益", "经济效益", "技术支撑", "模式推广"],
    paragraphs: &[
        "沙蓬是一种耐旱、耐寒、耐贫瘠的一年生沙生植物，根系发达，能够有效固定流沙，其籽实营养丰富，富含蛋白质和膳食纤维，被誉为“沙漠中的小米”。",
        "“沙蓬绿色种养产业模式”以种植沙蓬固沙改土为基础，利用沙蓬秸秆发展滩羊等特色养殖，再将养殖粪污加工成有机肥还田，形成了“以种促养、以养肥地”的循环链条。",
        "基地采用“企业+合作社+农户”的经营方式，企业统一提供种子、技术和回收服务，农户负责田间管理，每亩沙地年均增收800元以上。",
        "监测数据显示，连续种植沙蓬三年后，示范区地表植被覆盖度由不足10%提高到45%以上，土壤有机质含量明显提升，风沙天气对周边农田和道路的影响显著减少。",
        "为解决沙地缺水问题，基地推广了膜下滴灌和水肥一体化技术，较传统漫灌节水60%以上，同时利用物联网传感器对土壤墒情进行实时监测。",
        "目前，沙蓬米、沙蓬面粉、沙蓬挂面等系列产品已通过绿色食品认证，并通过电商平台销往全国20多个省区市，产品供不应求。",
        "专家认为，这一模式把生态治理与产业发展有机结合起来，走出了一条生态改善、产业发展、农民增收的多赢之路，具有较强的可复制性和推广价值。",
        "下一步，当地将在沙化土地上再推广种植沙蓬5万亩，配套建设标准化养殖小区和有机肥加工厂，力争三年内带动5000户农户稳定增收。",
    ],
    tags: &[
        "green-farming",
        "desert-control",
        "rural-revitalization",
        "tech-innovation",
        "low-carbon",
    ],
};

const LIANYUAN: Theme = Theme {
    orgs: &[
        "联源科技",
        "联源科技研究院",
        "联源科技股份有限公司",
        "联源科技南昌基地",
    ],
    events: &[
        "发布新一代工业互联网平台",
        "智能制造示范工厂正式投产",
        "研发总部大楼奠基",
        "入选专精特新“小巨人”企业名单",
        "与高校共建人工智能联合实验室",
        "智慧能源管理系统在园区落地",
        "完成新一轮战略融资",
        "举办年度开发者大会",
        "获评省级企业技术中心",
        "数字孪生解决方案通过专家鉴定",
    ],
    headings: &["核心技术", "应用场景", "企业发展", "行业观点"],
    paragraphs: &[
        "联源科技成立于2012年，是一家专注于工业互联网和智慧能源领域的高新技术企业，现有员工800余人，其中研发人员占比超过45%，累计获得授权专利200余项。",
        "新平台可接入数控机床、工业机器人、能源计量仪表等各类设备，实现生产数据的实时采集、分析和可视化，帮助企业将设备综合效率提高15%以上。",
        "在示范工厂内，从原料入库到成品出库的全过程实现了数字化管理，自动导引车穿梭于各条产线之间，生产效率提高30%，产品不良率下降近一半。",
        "智慧能源管理系统通过对园区水、电、气等能耗数据的集中监测和智能调度，帮助入驻企业平均降低能耗成本12%，每年减少二氧化碳排放约2万吨。",
        "联源科技负责人表示，企业将每年拿出销售收入的10%以上投入研发，重点突破工业软件、边缘计算和数字孪生等关键技术，打造具有自主知识产权的核心产品。",
        "本轮融资由多家投资机构联合领投，所募资金将主要用于新产品研发、市场拓展和高端人才引进。",
        "业内人士分析，随着“新基建”加速推进，工业互联网正从概念普及走向落地深耕，拥有行业经验和核心技术的企业将迎来更大的发展空间。",
        "截至目前，联源科技的解决方案已服务于汽车、家电、电子信息和新能源等行业的500多家企业，覆盖全国20多个省份。",
    ],
    tags: &[
        "tech-innovation",
        "digital-economy",
        "artificial-intelligence",
        "new-infrastructure",
        "talent",
        "5g",
    ],
};

const CHAOLIAN: Theme = Theme {
    orgs: &[
        "超联科技",
        "超联科技5G创新中心",
        "超联科技物联网事业部",
        "超联科技有限公司",
    ],
    events: &[
        "5G工业模组实现量产",
        "建成全省首个5G全连接工厂",
        "物联网芯片出货量突破千万片",
        "发布5G+智慧园区解决方案",
        "与运营商签署5G战略合作协议",
        "车联网路侧设备在示范区部署",
        "获批省级工程技术研究中心",
        "新一代通信基站设备通过入网检测",
        "5G远程医疗系统投入试用",
        "牵头制定物联网团体标准",
    ],
    headings: &["技术亮点", "落地应用", "合作共赢", "市场前景"],
    paragraphs: &[
        "超联科技是一家专注于5G通信和物联网技术的创新型企业，产品涵盖通信模组、物联网芯片、边缘网关和行业解决方案，客户遍布智能制造、智慧城市和车联网等领域。",
        "这款5G工业模组支持独立组网和非独立组网两种模式，具备大带宽、低时延、高可靠的特点，可在零下40摄氏度到85摄氏度的严苛环境中稳定工作。",
        "在5G全连接工厂内，高清视频质检、远程设备运维和柔性生产调度等应用全面上线，网络时延控制在20毫秒以内，为生产线的智能化改造提供了坚实支撑。",
        "超联科技相关负责人介绍，公司已在南昌、深圳、西安设立三大研发中心，研发投入连续三年保持30%以上的增长。",
        "5G+智慧园区解决方案整合了安防监控、能耗管理、停车引导和企业服务等功能，园区管理人员通过一块大屏即可掌握园区运行的全部情况。",
        "在车联网示范区，超联科技部署的路侧单元能够实时感知路口车流和行人信息，并通过5G网络推送给网联车辆，有效提升了道路通行效率和交通安全水平。",
        "据行业机构预测，未来五年我国物联网连接数将持续快速增长，5G与人工智能、大数据、云计算的融合应用将催生大量新的市场机会。",
        "双方将在5G网络建设、行业应用创新和联合实验室建设等方面开展深度合作，共同推动5G技术在工业领域的规模化应用。",
    ],
    tags: &[
        "5g",
        "new-infrastructure",
        "digital-economy",
        "artificial-intelligence",
        "tech-innovation",
    ],
};

const PARKS: Theme = Theme {
    orgs: &[
        "南昌开发区",
        "赣江新区",
        "高新技术产业园",
        "经开区管委会",
        "数字经济产业园",
        "技术协同创新园",
    ],
    events: &[
        "召开重大项目推进会",
        // Not the seed article's own headline phrases (双过半, 数字经济创新发展试验基地, 招商引资):
        // a reader searching for those should find the one real article about them first.
        "上半年主要经济指标稳中有进",
        "获评省级智慧园区示范单位",
        "出台支持人才创新创业若干措施",
        "集中开工一批重点产业项目",
        "营商环境评价位居全省前列",
        "举行重点项目集中签约仪式",
        "启动“店小二”式企业服务专项行动",
        "新增规上工业企业数量创历年新高",
        "开展城市建管十大提升行动",
    ],
    headings: &["发展成效", "重点工作", "服务企业", "下一步打算"],
    paragraphs: &[
        "今年以来，园区坚持稳中求进工作总基调，坚持新发展理念，主要经济指标呈现稳中有进、持续向好的态势。",
        "园区聚焦电子信息、新能源汽车、智能装备和数字经济四大主导产业，围绕产业链上下游精准招商，产业集群效应日益显现。",
        "为帮助企业解决用工、融资和物流等实际困难，园区组建了30个企业服务专班，实行“一企一策”精准帮扶，累计协调解决问题400余个。",
        "在人才引进方面，园区对引进的高层次人才给予最高200万元的安家补贴，并提供人才公寓、子女入学和医疗保障等“一站式”服务。",
        "园区持续深化“放管服”改革，推行企业投资项目“承诺制”审批和“拿地即开工”，项目审批时限平均压缩60%以上。",
        "与此同时，园区大力推进路网建设和城市更新，一批道路、公园、学校和社区邻里中心相继建成投用，城市功能和品质不断提升。",
        "园区相关负责人表示，下一步将紧盯全年目标任务，以项目建设为抓手，以优化营商环境为保障，奋力实现全年目标任务。",
        "数据显示，园区上半年完成规模以上工业增加值同比增长5.2%，固定资产投资同比增长8.6%，实际利用外资同比增长11.3%。",
    ],
    tags: &[
        "industrial-park",
        "business-environment",
        "double-half",
        "talent",
        "new-infrastructure",
        "digital-economy",
    ],
};

const INVESTMENT: Theme = Theme {
    orgs: &[
        "南昌开发区",
        "经开区招商局",
        "赣江新区",
        "电子信息产业园",
        "新能源汽车产业园",
        "智能装备产业园",
    ],
    events: &[
        "新签约项目28个，合同金额近400亿元",
        "赴长三角开展产业链招商活动",
        "百亿级新能源汽车零部件项目落户",
        "举办数字经济产业招商推介会",
        "与粤港澳大湾区企业签署合作协议",
        "智能家电产业基地引进配套企业12家",
        "出台产业链精准招商扶持政策",
        "外资项目实现“云签约”",
        "总部经济项目集中签约",
        "组建专业化招商队伍",
    ],
    headings: &["签约项目", "招商举措", "产业链布局", "政策支持"],
    paragraphs: &[
        "本次集中签约的项目涵盖电子信息、新能源汽车、智能装备、生物医药和现代服务业等领域，其中投资超过10亿元的项目有9个。",
        "园区坚持把招商引资作为经济工作的生命线，实行“全员招商”与“专业招商”相结合的工作机制，围绕主导产业做好延链、补链、强链文章。",
        "招商团队采取“以商招商”“以链招商”的方式，依托龙头企业的上下游关系精准对接配套企业，一批关键零部件项目相继落地。",
        "为吸引优质项目落户，园区对固定资产投资超过5亿元的制造业项目，在用地、用能、融资和人才等方面给予“一事一议”的政策支持。",
        "项目签约后，园区将为每个项目配备一名项目专员，提供从注册登记、规划审批到开工投产的全流程代办服务，确保项目早开工、早投产、早见效。",
        "推介会上，园区重点推介了区位交通、产业基础、人才资源和营商环境等方面的优势，吸引了来自北京、上海、深圳等地的100多家企业代表参会。",
        "据了解，该项目投产后预计可实现年产值50亿元、年纳税3亿元，新增就业岗位2000个，将进一步完善园区新能源汽车产业链条。",
        "为提高招商效率，园区探索开展线上招商，通过视频连线、“云考察”和“云签约”等方式，让客商足不出户就能全面了解园区。",
    ],
    tags: &[
        "investment-promotion",
        "industrial-park",
        "business-environment",
        "new-energy-vehicles",
        "digital-economy",
    ],
};

/// Paragraphs that fit any channel, mixed in after the channel's own.
const GENERIC_PARAGRAPHS: &[&str] = &[
    "与会专家一致认为，科技创新是引领发展的第一动力，企业要坚持把创新摆在发展全局的核心位置，加大研发投入，加快关键核心技术攻关。",
    "据悉，项目建设期间，相关部门将实行挂图作战、倒排工期，全力以赴保障项目建设顺利推进。",
    "当地相关负责人表示，将持续优化营商环境，以“店小二”式热情、周到、细致的服务，为企业发展营造良好环境。",
    "在人才方面，企业与省内多所高校建立了产学研合作关系，共建实习实训基地，每年引进和培养各类专业技术人才数百名。",
    "业内人士表示，随着国家和地方一系列支持政策相继出台，相关产业将迎来新一轮发展机遇，市场规模有望保持较快增长。",
    "活动现场，与会嘉宾还参观了企业展厅和生产车间，详细了解了企业的技术研发、产品应用和市场拓展情况。",
    "下一步，各方将进一步加强沟通协作，推动更多合作项目落地见效，为地方经济高质量发展注入新动能。",
    "据统计，该领域近三年产值年均增长20%以上，已成为带动区域经济增长的重要引擎。",
];

/// Every channel articles may be filed in (园区 itself too, not only its sub-channels), with its
/// theme.
const CHANNEL_THEMES: &[(&str, &Theme)] = &[
    ("hydrogen", &HYDROGEN),
    ("green-farming", &GREEN_FARMING),
    ("lianyuan", &LIANYUAN),
    ("chaolian", &CHAOLIAN),
    ("parks", &PARKS),
    ("park-news", &PARKS),
    ("park-investment", &INVESTMENT),
];

/// Bylines of the site's own reporters.
const OWN_AUTHORS: &[&str] = &[
    "本站记者 王晓燕",
    "本站记者 陈志刚",
    "本站记者 刘思远",
    "本站通讯员 周敏",
];

/// Bylines of other media's reporters; reprints without one are common too.
const REPRINT_AUTHORS: &[&str] = &["张伟", "李娜", "黄海涛", "杨帆", "赵静"];

/// The override one reprint carries, so that all three levels of the disclaimer chain (article,
/// source, site) occur in the demo.
const ARTICLE_DISCLAIMER: &str = "本文经科技前沿报授权转载，转载请注明出处并保留原文链接。";

/// The source whose first reprint carries [`ARTICLE_DISCLAIMER`].
const ARTICLE_DISCLAIMER_SOURCE: &str = "keji-qianyan";

/// The demo's generated articles, `demo-0001` ..= `demo-0300`.
pub(super) fn articles() -> crate::Result<Vec<ArticleSpec>> {
    generate(SEED, COUNT)
}

/// `count` articles from an RNG seeded with `seed`. The last two are a draft and an archived
/// article, so that the demo shows articles readers must not see.
pub(super) fn generate(seed: u64, count: usize) -> crate::Result<Vec<ArticleSpec>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let beijing = FixedOffset::east_opt(8 * 3600).ok_or_else(|| invalid("UTC+8"))?;
    let reprint_sources: Vec<_> = fixed::SOURCES
        .iter()
        .filter(|s| s.slug != fixed::OWN_SOURCE)
        .collect();
    let mut article_disclaimer_used = false;
    let mut out = Vec::with_capacity(count);

    for n in 1..=count {
        let &(channel, theme) = CHANNEL_THEMES
            .choose(&mut rng)
            .ok_or_else(|| invalid("channels"))?;
        let published_at =
            DateTime::<Utc>::from_timestamp(rng.random_range(FIRST_SECOND..=LAST_SECOND), 0)
                .ok_or_else(|| invalid("published_at"))?;
        let local = published_at.with_timezone(&beijing);

        let org = pick(theme.orgs, &mut rng)?;
        let event = pick(theme.events, &mut rng)?;
        let title = format!("{org}{event}");
        let lead = format!("{}月{}日，{org}{event}。", local.month(), local.day());
        let body = compose_body(theme, &lead, &mut rng)?;

        // Sponsored articles are spaced by index rather than drawn, so that there are always a
        // few, and none of them is one of the last two.
        let roll = rng.random_range(0..100);
        let (kind, source, original_url, author) = if n % 40 == 17 && n + 2 <= count {
            (ArticleKind::Sponsored, None, None, None)
        } else if roll < 10 {
            (
                ArticleKind::Original,
                None,
                None,
                Some(pick(OWN_AUTHORS, &mut rng)?),
            )
        } else if roll < 30 {
            (
                ArticleKind::Original,
                Some(fixed::OWN_SOURCE),
                None,
                Some(pick(OWN_AUTHORS, &mut rng)?),
            )
        } else {
            let src = reprint_sources
                .choose(&mut rng)
                .ok_or_else(|| invalid("sources"))?;
            let home = src.homepage.unwrap_or("https://www.example.cn/");
            let url = format!("{home}news/{}/{}.html", local.format("%Y%m%d"), 100_000 + n);
            let author = if rng.random_bool(0.5) {
                Some(pick(REPRINT_AUTHORS, &mut rng)?)
            } else {
                None
            };
            (ArticleKind::Reprint, Some(src.slug), Some(url), author)
        };
        let disclaimer = if !article_disclaimer_used && source == Some(ARTICLE_DISCLAIMER_SOURCE) {
            article_disclaimer_used = true;
            Some(ARTICLE_DISCLAIMER.to_owned())
        } else {
            None
        };

        let featured = rng.random_ratio(1, 7);
        // 推荐图文 shows the cover, so a featured article without one would be a broken box.
        let cover_image =
            featured.then(|| format!("/media/demo/cover-{:02}.svg", rng.random_range(1..=COVERS)));
        let recommended = rng.random_ratio(1, 5);
        let view_count = rng.random_range(0..5000);

        let tag_count = rng.random_range(1..=4).min(theme.tags.len());
        let tags = theme
            .tags
            .choose_multiple(&mut rng, tag_count)
            .copied()
            .collect();

        let status = if n + 1 == count {
            ArticleStatus::Draft
        } else if n == count {
            ArticleStatus::Archived
        } else {
            ArticleStatus::Published
        };

        out.push(ArticleSpec {
            slug: format!("demo-{n:04}"),
            title,
            lead: Some(lead),
            body,
            cover_image,
            author: author.map(str::to_owned),
            channel,
            source,
            original_url,
            kind,
            status,
            published_at,
            featured,
            recommended,
            disclaimer,
            view_count,
            tags,
        });
    }
    Ok(out)
}

/// Three to six paragraphs with one `##` heading between them: first the lead and the channel's
/// own paragraphs, then general ones.
fn compose_body(theme: &Theme, lead: &str, rng: &mut StdRng) -> crate::Result<String> {
    let total = rng.random_range(3..=6_usize);
    let own = rng
        .random_range(2..=total.min(4))
        .min(theme.paragraphs.len());
    let mut paragraphs: Vec<String> = theme
        .paragraphs
        .choose_multiple(rng, own)
        .map(|p| (*p).to_owned())
        .collect();
    paragraphs.extend(
        GENERIC_PARAGRAPHS
            .choose_multiple(rng, total - own)
            .map(|p| (*p).to_owned()),
    );
    if let Some(first) = paragraphs.first_mut() {
        first.insert_str(0, lead);
    }
    let heading_at = rng.random_range(1..paragraphs.len());
    let heading = format!("## {}", pick(theme.headings, rng)?);
    paragraphs.insert(heading_at, heading);
    Ok(paragraphs.join("\n\n"))
}

/// One element of a pool that is never empty.
fn pick<'a>(pool: &[&'a str], rng: &mut StdRng) -> crate::Result<&'a str> {
    pool.choose(rng)
        .copied()
        .ok_or_else(|| invalid("an empty pool"))
}

fn invalid(what: &str) -> crate::Error {
    crate::Error::validation("demo", format!("cannot generate {what}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let a = articles().unwrap();
        let b = articles().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, generate(SEED + 1, COUNT).unwrap());
    }

    #[test]
    fn slugs_are_unique_and_numbered() {
        let all = articles().unwrap();
        assert_eq!(all.len(), COUNT);
        assert_eq!(all[0].slug, "demo-0001");
        assert_eq!(all[COUNT - 1].slug, "demo-0300");
        let slugs: HashSet<_> = all.iter().map(|a| a.slug.as_str()).collect();
        assert_eq!(slugs.len(), COUNT);
        assert!(!slugs.contains(super::super::SEED_ARTICLE_SLUG));
    }

    #[test]
    fn every_featured_article_has_a_cover() {
        let all = articles().unwrap();
        let featured: Vec<_> = all.iter().filter(|a| a.featured).collect();
        assert!(
            featured.len() > COUNT / 10 && featured.len() < COUNT / 4,
            "{}",
            featured.len()
        );
        for a in featured {
            let cover = a.cover_image.as_deref().unwrap();
            assert!(
                cover.starts_with("/media/demo/cover-") && cover.ends_with(".svg"),
                "{cover}"
            );
        }
        assert!(all.iter().filter(|a| a.recommended).count() > COUNT / 10);
    }

    #[test]
    fn kinds_follow_sources() {
        let all = articles().unwrap();
        for a in &all {
            match a.kind {
                ArticleKind::Reprint => {
                    let source = a.source.unwrap();
                    assert_ne!(source, fixed::OWN_SOURCE);
                    assert!(a.original_url.as_deref().unwrap().contains(".example."));
                }
                ArticleKind::Original => assert!(a.source.is_none_or(|s| s == fixed::OWN_SOURCE)),
                ArticleKind::Sponsored => assert!(a.original_url.is_none()),
            }
        }
        let sponsored = all
            .iter()
            .filter(|a| a.kind == ArticleKind::Sponsored)
            .count();
        assert!((3..=15).contains(&sponsored), "{sponsored}");
        assert!(
            all.iter()
                .any(|a| a.kind == ArticleKind::Original && a.source.is_none())
        );
        assert_eq!(all.iter().filter(|a| a.disclaimer.is_some()).count(), 1);
    }

    #[test]
    fn every_channel_and_source_is_used() {
        let all = articles().unwrap();
        for channel in fixed::CHANNELS {
            assert!(
                all.iter().any(|a| a.channel == channel.slug),
                "{}",
                channel.slug
            );
        }
        for source in fixed::SOURCES {
            assert!(
                all.iter().any(|a| a.source == Some(source.slug)),
                "{}",
                source.slug
            );
        }
    }

    #[test]
    fn bodies_have_one_heading_and_three_to_six_paragraphs() {
        for a in articles().unwrap() {
            let blocks: Vec<_> = a.body.split("\n\n").collect();
            let headings = blocks.iter().filter(|b| b.starts_with("## ")).count();
            assert_eq!(headings, 1, "{}", a.slug);
            assert!(
                (3..=6).contains(&(blocks.len() - 1)),
                "{}: {}",
                a.slug,
                blocks.len()
            );
            assert!(!blocks[0].starts_with("## "));
            let lead = a.lead.as_deref().unwrap();
            assert!(blocks[0].starts_with(lead) && lead.ends_with('。'));
            assert!((1..=4).contains(&a.tags.len()));
            assert_eq!(a.tags.iter().collect::<HashSet<_>>().len(), a.tags.len());
        }
    }

    #[test]
    fn the_last_two_are_invisible_and_the_rest_published() {
        let all = articles().unwrap();
        assert_eq!(all[COUNT - 2].status, ArticleStatus::Draft);
        assert_eq!(all[COUNT - 1].status, ArticleStatus::Archived);
        assert!(
            all[..COUNT - 2]
                .iter()
                .all(|a| a.status == ArticleStatus::Published)
        );
        let first = DateTime::<Utc>::from_timestamp(FIRST_SECOND, 0).unwrap();
        let last = DateTime::<Utc>::from_timestamp(LAST_SECOND, 0).unwrap();
        assert!(
            all.iter()
                .all(|a| a.published_at >= first && a.published_at <= last)
        );
        assert_eq!(first.to_rfc3339(), "2019-01-01T00:00:00+00:00");
        assert_eq!(last.to_rfc3339(), "2020-12-31T23:59:59+00:00");
    }

    #[test]
    fn theme_tags_exist() {
        for (_, theme) in CHANNEL_THEMES {
            assert!(theme.tags.len() >= 4);
            for tag in theme.tags {
                assert!(fixed::TAGS.iter().any(|t| t.slug == *tag), "{tag}");
            }
        }
    }
}
