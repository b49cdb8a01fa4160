// Article lists: the home page (newest first), a channel (with its sub-channels) and a tag, in
// pages of 20 with keyset cursors in the address: `?after=` for the next page, `?before=` for
// the previous one.

import { articleHref, channelHref, formatDate, h } from '../dom';
import type { ListItem, ListPage } from '../queries';
import { renderSidebar } from './sidebar';

export const PAGE_SIZE = 20;

/** What a list route asks for. */
export interface ListRoute {
  kind: 'home' | 'channel' | 'tag';
  slug: string;
  after?: string;
  before?: string;
}

/** The variables of `LIST_PAGE` for a route. */
export function listVariables(route: ListRoute): Record<string, unknown> {
  const paging = route.before ? { last: PAGE_SIZE, before: route.before } : { first: PAGE_SIZE, after: route.after ?? null };
  const filter = route.kind === 'channel' ? { channel: route.slug } : route.kind === 'tag' ? { tag: route.slug } : {};
  return {
    ...paging,
    filter,
    channel: route.kind === 'channel' ? route.slug : '',
    isChannel: route.kind === 'channel',
    tag: route.kind === 'tag' ? route.slug : '',
    isTag: route.kind === 'tag',
  };
}

function routeBase(route: ListRoute): string {
  return route.kind === 'home' ? '#/' : `#/${route.kind}/${encodeURIComponent(route.slug)}`;
}

export function renderListPage(route: ListRoute, data: ListPage): HTMLElement[] {
  const { articles } = data;
  let heading: (HTMLElement | string)[] = ['最新资讯'];
  let below: HTMLElement | null = null;
  if (route.kind === 'channel' && data.channel) {
    const c = data.channel;
    heading = [c.parent ? h('a', { href: channelHref(c.parent.slug) }, c.parent.name) : '', c.parent ? ' > ' : '', c.name];
    below = c.children.length
      ? h('p', { class: 'children' }, c.children.map((k) => h('a', { href: channelHref(k.slug), 'data-slug': k.slug }, k.name)))
      : null;
  } else if (route.kind === 'tag' && data.tag) {
    heading = [`标签:${data.tag.name}`];
  }
  const { pageInfo } = articles;
  const base = routeBase(route);
  const pager = h(
    'nav',
    { class: 'pager', id: 'pager', 'aria-label': '分页' },
    pageInfo.hasPreviousPage && pageInfo.startCursor
      ? h('a', { id: 'prev-page', rel: 'prev', href: `${base}?${new URLSearchParams({ before: pageInfo.startCursor })}` }, '上一页')
      : h('span', { class: 'disabled' }, '上一页'),
    route.after || route.before ? h('a', { id: 'first-page', href: base }, '第一页') : null,
    pageInfo.hasNextPage && pageInfo.endCursor
      ? h('a', { id: 'next-page', rel: 'next', href: `${base}?${new URLSearchParams({ after: pageInfo.endCursor })}` }, '下一页')
      : h('span', { class: 'disabled' }, '下一页'),
  );
  return [
    h(
      'section',
      { class: 'content', id: 'list', 'data-kind': route.kind, 'data-slug': route.slug },
      h('h1', { id: 'list-title' }, heading),
      below,
      h('p', { class: 'count' }, '共 ', h('span', { id: 'total-count' }, String(articles.totalCount)), ' 篇'),
      articles.nodes.length ? h('ul', { class: 'articles', id: 'articles' }, articles.nodes.map(listItem)) : h('p', { class: 'empty' }, '暂无文章'),
      pager,
    ),
    renderSidebar(data),
  ];
}

function listItem(a: ListItem): HTMLElement {
  return h(
    'li',
    {},
    h('h3', {}, h('a', { href: articleHref(a.slug), 'data-slug': a.slug }, a.title)),
    a.lead ? h('p', { class: 'lead' }, a.lead) : null,
    h(
      'p',
      { class: 'meta' },
      h('time', {}, formatDate(a.publishedAt)),
      a.source ? h('span', {}, a.source.name) : null,
      a.channel ? h('a', { href: channelHref(a.channel.slug) }, a.channel.name) : null,
    ),
  );
}
