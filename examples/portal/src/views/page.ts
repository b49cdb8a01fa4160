// A standing page from the footer (关于我们, 联系方式, ...).

import { BODY_TAGS, fromHtml, h } from '../dom';
import type { StandingPage } from '../queries';

export function renderStandingPage(data: StandingPage): HTMLElement[] {
  const page = data.page;
  if (!page) {
    return [h('section', { class: 'content wide', id: 'not-found' }, h('h1', {}, '页面不存在'), h('p', {}, h('a', { href: '#/' }, '返回首页')))];
  }
  const body = h('div', { class: 'body', id: 'page-body' });
  body.append(fromHtml(page.body, BODY_TAGS));
  return [h('article', { class: 'content wide', id: 'page', 'data-slug': page.slug }, h('h1', { id: 'page-title' }, page.title), body)];
}
