// The GraphQL documents the portal sends, and the shapes of their answers. Each page is one
// request: the page's own fields beside the fragments every page shows.

/** The header and footer: slogan, navigation, footer pages, filing numbers. */
const CHROME = `
fragment Chrome on Query {
  site { name slogan icpFiling publicSecurityFiling footerPages { slug title } }
  channels { slug name children { slug name } }
}`;

const RANKED = `
fragment Ranking on RankedArticle { rank views article { slug title } }`;

/** The side boxes: 推荐图文, 推荐资讯 and 点击排行 (in the window `$window`). */
const SIDEBAR = `${RANKED}
fragment Sidebar on Query {
  featured: recommended(kind: WITH_IMAGE, first: 4) { slug title coverImage }
  picks: recommended(kind: TEXT, first: 8) { slug title publishedAt }
  clickRanking(window: $window, first: 10) { ...Ranking }
}`;

const LIST_ITEM = `
fragment ListItem on Article { slug title lead publishedAt source { name } channel { slug name } }`;

export const ARTICLE_PAGE = `
query ArticlePage($slug: String!, $window: RankingWindow!) {
  ...Chrome
  ...Sidebar
  article(slug: $slug) {
    id slug title publishedAt viewCount lead author originalUrl body
    source { name homepage }
    channel { slug name parent { slug name } }
    tags { slug name }
    disclaimer { text sourceName originalUrl takedownContact }
    related(first: 8) { slug title publishedAt }
  }
}
${CHROME}${SIDEBAR}`;

export const LIST_PAGE = `
query ListPage(
  $first: Int, $after: String, $last: Int, $before: String, $filter: ArticleFilterInput,
  $channel: String!, $isChannel: Boolean!, $tag: String!, $isTag: Boolean!, $window: RankingWindow!
) {
  ...Chrome
  ...Sidebar
  channel(slug: $channel) @include(if: $isChannel) {
    slug name parent { slug name } children { slug name }
  }
  tag(slug: $tag) @include(if: $isTag) { slug name }
  articles(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { ...ListItem }
  }
}
${CHROME}${SIDEBAR}${LIST_ITEM}`;

export const SEARCH_PAGE = `
query SearchPage($query: String!, $after: String, $window: RankingWindow!) {
  ...Chrome
  ...Sidebar
  search(query: $query, first: 10, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      snippet(highlightStart: "<mark>", highlightEnd: "</mark>")
      article { slug title publishedAt source { name } channel { slug name } }
    }
  }
}
${CHROME}${SIDEBAR}`;

/** The search page before anything was asked: no search, which needs 1 to 100 characters. */
export const CHROME_AND_SIDEBAR = `
query Portal($window: RankingWindow!) { ...Chrome ...Sidebar }
${CHROME}${SIDEBAR}`;

export const STANDING_PAGE = `
query StandingPage($slug: String!) {
  ...Chrome
  page(slug: $slug) { slug title body updatedAt }
}
${CHROME}`;

export const RANKING = `
query Ranking($window: RankingWindow!) { clickRanking(window: $window, first: 10) { ...Ranking } }
${RANKED}`;

export interface Link { slug: string; title: string }
export interface Named { slug: string; name: string }
export interface Channel extends Named { children: Named[] }

export interface Chrome {
  site: {
    name: string;
    slogan: string | null;
    icpFiling: string | null;
    publicSecurityFiling: string | null;
    footerPages: Link[];
  };
  channels: Channel[];
}

export interface Ranked { rank: number; views: number; article: Link }

export interface Sidebar {
  featured: (Link & { coverImage: string | null })[];
  picks: (Link & { publishedAt: string | null })[];
  clickRanking: Ranked[];
}

export interface ListItem extends Link {
  lead: string | null;
  publishedAt: string | null;
  source: { name: string } | null;
  channel: Named | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Article {
  id: string;
  slug: string;
  title: string;
  publishedAt: string | null;
  viewCount: number;
  lead: string | null;
  author: string | null;
  originalUrl: string | null;
  body: string;
  source: { name: string; homepage: string | null } | null;
  channel: (Named & { parent: Named | null }) | null;
  tags: Named[];
  disclaimer: { text: string; sourceName: string | null; originalUrl: string | null; takedownContact: string | null } | null;
  related: (Link & { publishedAt: string | null })[];
}

export type ArticlePage = Chrome & Sidebar & { article: Article | null };

export type ListPage = Chrome &
  Sidebar & {
    channel?: (Named & { parent: Named | null; children: Named[] }) | null;
    tag?: Named | null;
    articles: { totalCount: number; pageInfo: PageInfo; nodes: ListItem[] };
  };

export interface SearchHit {
  snippet: string;
  article: Link & { publishedAt: string | null; source: { name: string } | null; channel: Named | null };
}

export type SearchPage = Chrome &
  Sidebar & {
    search: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: SearchHit[] };
  };

export type StandingPage = Chrome & { page: { slug: string; title: string; body: string; updatedAt: string } | null };

/** The ranking windows the API offers (its RankingWindow enum), with the tabs' labels. */
export const WINDOWS = [
  { value: 'DAY', label: '日' },
  { value: 'WEEK', label: '周' },
  { value: 'MONTH', label: '月' },
  { value: 'ALL', label: '总' },
] as const;

export type RankingWindow = (typeof WINDOWS)[number]['value'];

/** The API's own default window. */
export const DEFAULT_WINDOW: RankingWindow = 'WEEK';
