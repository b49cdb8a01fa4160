// The article page, the seed page itself: title, date, source and view count, 核心提示, the body,
// 免责声明, 同类资讯, and the side boxes.

import { reportView } from '../api';
import { BODY_TAGS, articleHref, channelHref, formatDate, fromHtml, h, safeUrl, tagHref } from '../dom';
import type { Article, ArticlePage } from '../queries';
import { renderSidebar } from './sidebar';

export function renderArticlePage(data: ArticlePage): HTMLElement[] {
  const article = data.article;
  if (!article) {
    return [
      h(
        'section',
        { class: 'content', id: 'not-found' },
        h('h1', {}, '文章不存在'),
        h('p', {}, '这篇文章不存在,或已被删除、撤下。'),
        h('p', {}, h('a', { href: '#/' }, '返回首页')),
      ),
      renderSidebar(data),
    ];
  }
  return [renderArticle(article), renderSidebar(data)];
}

function renderArticle(a: Article): HTMLElement {
  const crumbs: (HTMLElement | string)[] = [h('a', { href: '#/' }, '首页')];
  if (a.channel?.parent) crumbs.push(' > ', h('a', { href: channelHref(a.channel.parent.slug) }, a.channel.parent.name));
  if (a.channel) crumbs.push(' > ', h('a', { href: channelHref(a.channel.slug) }, a.channel.name));
  const original = safeUrl(a.originalUrl);
  const source = a.source
    ? h(
        'span',
        { class: 'source' },
        '来源:',
        original
          ? h('a', { id: 'article-source', href: original, rel: 'noopener noreferrer nofollow' }, a.source.name)
          : h('span', { id: 'article-source' }, a.source.name),
      )
    : null;
  const disclaimer = a.disclaimer;
  const body = h('div', { class: 'body', id: 'article-body' });
  body.append(fromHtml(a.body, BODY_TAGS));
  return h(
    'article',
    { class: 'content', id: 'article', 'data-id': a.id, 'data-slug': a.slug },
    h('p', { class: 'crumbs' }, crumbs),
    h('h1', { id: 'article-title' }, a.title),
    h(
      'p',
      { class: 'meta' },
      h('time', { id: 'article-date', datetime: a.publishedAt ?? undefined }, formatDate(a.publishedAt)),
      source,
      a.author ? h('span', { class: 'author' }, `作者:${a.author}`) : null,
      h('span', { class: 'views' }, '浏览:', h('span', { id: 'view-count' }, String(a.viewCount))),
    ),
    a.lead ? h('p', { class: 'lead', id: 'article-lead' }, h('strong', {}, '核心提示:'), h('span', {}, a.lead)) : null,
    body,
    a.tags.length
      ? h('p', { class: 'tags', id: 'article-tags' }, '标签:', a.tags.map((t) => h('a', { href: tagHref(t.slug), 'data-slug': t.slug }, t.name)))
      : null,
    disclaimer
      ? h(
          'section',
          { class: 'disclaimer', id: 'disclaimer' },
          h('p', {}, h('strong', {}, '免责声明:'), h('span', { class: 'text' }, disclaimer.text)),
          disclaimer.sourceName || original
            ? h(
                'p',
                { class: 'attribution' },
                disclaimer.sourceName ? `原文来源:${disclaimer.sourceName} ` : null,
                original ? h('a', { href: original, rel: 'noopener noreferrer nofollow' }, '查看原文') : null,
              )
            : null,
          disclaimer.takedownContact
            ? h('p', { class: 'contact' }, '版权联系:', h('span', {}, disclaimer.takedownContact))
            : null,
        )
      : null,
    h(
      'section',
      { class: 'box', id: 'related' },
      h(
        'h2',
        {},
        '同类资讯',
        a.channel ? h('a', { class: 'more', href: channelHref(a.channel.slug) }, '更多>') : null,
      ),
      a.related.length
        ? h(
            'ul',
            {},
            a.related.map((r) =>
              h('li', {}, h('a', { href: articleHref(r.slug), 'data-slug': r.slug }, r.title), h('time', {}, formatDate(r.publishedAt))),
            ),
          )
        : h('p', { class: 'empty' }, '暂无同类资讯'),
    ),
  );
}

/** Reports the view and records the outcome on the page (`data-view`), for readers of the DOM. */
export function countView(a: { id: string }): void {
  document.body.dataset.view = 'pending';
  void reportView(a.id).then((ok) => {
    document.body.dataset.view = ok ? 'sent' : 'failed';
  });
}
