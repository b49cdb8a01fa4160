// The portal: a hash router that renders each page from one GraphQL request.
//
//   #/                     newest articles          #/article/SLUG   an article (the seed page)
//   #/channel/SLUG[?after=|?before=]  a channel      #/tag/SLUG       a tag's articles
//   #/search?q=WORDS[&after=]         search         #/page/SLUG      a standing page
//
// `<body data-state>` is `loading`, `ready` or `error`, and `data-route` names the route the page
// shows, so a reader (or a browser test) can tell when a page is complete.

import './style.css';
import { ApiError, gql } from './api';
import { h } from './dom';
import {
  ARTICLE_PAGE, type ArticlePage, CHROME_AND_SIDEBAR, type Chrome, DEFAULT_WINDOW, LIST_PAGE, type ListPage,
  SEARCH_PAGE, STANDING_PAGE, type SearchPage, type Sidebar, type StandingPage,
} from './queries';
import { countView, renderArticlePage } from './views/article';
import { renderFooter, renderHeader } from './views/chrome';
import { type ListRoute, listVariables, renderListPage } from './views/list';
import { renderStandingPage } from './views/page';
import { renderSearchPage } from './views/search';

const app = document.getElementById('app')!;
const header = document.getElementById('site-header')!;
const footer = document.getElementById('site-footer')!;

type Route =
  | ListRoute
  | { kind: 'article'; slug: string }
  | { kind: 'search'; query: string; after?: string }
  | { kind: 'page'; slug: string };

function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?', 2);
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [kind, slug = ''] = parts;
  const after = params.get('after') ?? undefined;
  const before = params.get('before') ?? undefined;
  switch (kind) {
    case 'article':
      return { kind: 'article', slug };
    case 'channel':
    case 'tag':
      return { kind, slug, after, before };
    case 'search':
      return { kind: 'search', query: (params.get('q') ?? '').trim(), after };
    case 'page':
      return { kind: 'page', slug };
    default:
      return { kind: 'home', slug: '', after, before };
  }
}

/** Puts a page on screen: header and footer from the chrome, the page's own parts in <main>. */
function show(chrome: Chrome, parts: HTMLElement[], title: string, query = ''): void {
  header.replaceChildren(...renderHeader(chrome, query));
  footer.replaceChildren(...renderFooter(chrome));
  app.replaceChildren(...parts);
  document.title = title ? `${title} - ${chrome.site.name}` : chrome.site.name;
}

let rendering = 0;

async function render(): Promise<void> {
  const token = ++rendering;
  const hash = location.hash || '#/';
  const route = parseRoute(hash);
  document.body.dataset.state = 'loading';
  delete document.body.dataset.view;
  const ranking = DEFAULT_WINDOW; // the ranking tab a page opens on
  try {
    let finish: () => void = () => {};
    switch (route.kind) {
      case 'article': {
        const data = await gql<ArticlePage>(ARTICLE_PAGE, { slug: route.slug, window: ranking });
        if (token !== rendering) return;
        show(data, renderArticlePage(data), data.article?.title ?? '文章不存在');
        const article = data.article;
        if (article) finish = () => countView(article);
        break;
      }
      case 'search': {
        if (!route.query) {
          const data = await gql<Chrome & Sidebar>(CHROME_AND_SIDEBAR, { window: ranking });
          if (token !== rendering) return;
          show(data, renderSearchPage('', undefined, null, data), '搜索');
          break;
        }
        const data = await gql<SearchPage>(SEARCH_PAGE, { query: route.query, after: route.after ?? null, window: ranking });
        if (token !== rendering) return;
        show(data, renderSearchPage(route.query, route.after, data, data), `搜索:${route.query}`, route.query);
        break;
      }
      case 'page': {
        const data = await gql<StandingPage>(STANDING_PAGE, { slug: route.slug });
        if (token !== rendering) return;
        show(data, renderStandingPage(data), data.page?.title ?? '页面不存在');
        break;
      }
      default: {
        const data = await gql<ListPage>(LIST_PAGE, { ...listVariables(route), window: ranking });
        if (token !== rendering) return;
        const name = route.kind === 'channel' ? data.channel?.name : route.kind === 'tag' ? data.tag?.name : '';
        show(data, renderListPage(route, data), name ?? '');
      }
    }
    document.body.dataset.route = hash;
    document.body.dataset.state = 'ready';
    scrollTo(0, 0);
    finish();
  } catch (e) {
    if (token !== rendering) return;
    showError(e, route);
    document.body.dataset.route = hash;
    document.body.dataset.state = 'error';
  }
}

function showError(e: unknown, route: Route): void {
  const error = e instanceof ApiError ? e : new ApiError(String(e));
  // An unknown channel or tag is refused as a bad filter; a stale cursor likewise.
  const message =
    error.badInput() && (route.kind === 'channel' || route.kind === 'tag')
      ? '频道或标签不存在,或分页参数已失效。'
      : error.badInput() && route.kind === 'search'
        ? `搜索词无效:${error.message}`
        : `加载失败:${error.message}`;
  app.replaceChildren(
    h('section', { class: 'content wide', id: 'error' }, h('h1', {}, '出错了'), h('p', { class: 'error' }, message), h('p', {}, h('a', { href: '#/' }, '返回首页'))),
  );
}

addEventListener('hashchange', () => void render());
void render();
