// The search page: hits best first with their highlighted snippets, ten a page, `?after=` for the
// next page (search pages forwards only).

import { SNIPPET_TAGS, articleHref, channelHref, formatDate, fromHtml, h } from '../dom';
import type { SearchHit, SearchPage, Sidebar } from '../queries';
import { renderSidebar } from './sidebar';

/** `data` is `null` before anything was asked; the side boxes come from `sidebar` then. */
export function renderSearchPage(query: string, after: string | undefined, data: SearchPage | null, sidebar: Sidebar): HTMLElement[] {
  const content = h('section', { class: 'content', id: 'search' });
  if (!data) {
    content.append(h('h1', {}, '搜索'), h('p', { class: 'hint' }, '在上方输入关键词搜索资讯。'));
    return [content, renderSidebar(sidebar)];
  }
  const { search } = data;
  content.append(
    h('h1', {}, '搜索:', h('q', { id: 'search-query' }, query)),
    h('p', { class: 'count' }, '找到 ', h('span', { id: 'total-count' }, String(search.totalCount)), ' 篇相关资讯'),
    search.nodes.length ? h('ol', { class: 'hits', id: 'hits' }, search.nodes.map(hit)) : h('p', { class: 'empty', id: 'no-hits' }, '没有找到相关资讯。'),
    h(
      'nav',
      { class: 'pager', id: 'pager', 'aria-label': '分页' },
      after ? h('a', { id: 'first-page', href: `#/search?${new URLSearchParams({ q: query })}` }, '第一页') : null,
      search.pageInfo.hasNextPage && search.pageInfo.endCursor
        ? h('a', { id: 'next-page', rel: 'next', href: `#/search?${new URLSearchParams({ q: query, after: search.pageInfo.endCursor })}` }, '下一页')
        : h('span', { class: 'disabled' }, '下一页'),
    ),
  );
  return [content, renderSidebar(sidebar)];
}

function hit(node: SearchHit): HTMLElement {
  const a = node.article;
  // The snippet is HTML: escaped text with <mark> around matches. Only text and <mark> survive.
  const snippet = h('p', { class: 'snippet' });
  snippet.append(fromHtml(node.snippet, SNIPPET_TAGS));
  return h(
    'li',
    {},
    h('h3', {}, h('a', { href: articleHref(a.slug), 'data-slug': a.slug }, a.title)),
    snippet,
    h(
      'p',
      { class: 'meta' },
      h('time', {}, formatDate(a.publishedAt)),
      a.source ? h('span', {}, a.source.name) : null,
      a.channel ? h('a', { href: channelHref(a.channel.slug) }, a.channel.name) : null,
    ),
  );
}
