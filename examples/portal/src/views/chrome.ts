// The header (site name, slogan, channel navigation, search box) and the footer (footer pages,
// filing numbers), the same on every page.

import { API_URL } from '../api';
import { channelHref, h, pageHref } from '../dom';
import type { Chrome } from '../queries';

export function renderHeader(chrome: Chrome, query = ''): HTMLElement[] {
  const { site, channels } = chrome;
  const search = h(
    'form',
    { id: 'search-form', class: 'search-form', role: 'search', action: '#/search' },
    h('input', {
      type: 'search', name: 'q', id: 'search-input', maxlength: '100', required: '',
      placeholder: '搜索资讯', 'aria-label': '搜索资讯',
    }),
    h('button', { type: 'submit' }, '搜索'),
  );
  search.querySelector('input')!.value = query;
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = (search.querySelector('input') as HTMLInputElement).value.trim();
    if (q) location.hash = `#/search?${new URLSearchParams({ q })}`;
  });
  const subnav = channels.filter((c) => c.children.length > 0);
  const parts: (HTMLElement | null)[] = [
    h(
      'div',
      { class: 'topbar' },
      h('a', { class: 'site-name', id: 'site-name', href: '#/' }, site.name),
      site.slogan ? h('p', { class: 'slogan', id: 'slogan' }, site.slogan) : null,
      search,
    ),
    h(
      'nav',
      { id: 'channels', class: 'channels', 'aria-label': '频道' },
      h('a', { href: '#/', class: 'home' }, '首页'),
      channels.map((c) => h('a', { href: channelHref(c.slug), 'data-slug': c.slug }, c.name)),
    ),
    subnav.length
      ? h(
          'nav',
          { id: 'subchannels', class: 'subchannels', 'aria-label': '子频道' },
          subnav.map((c) =>
            h('span', {}, `${c.name}:`, c.children.map((k) => h('a', { href: channelHref(k.slug), 'data-slug': k.slug }, k.name))),
          ),
        )
      : null,
  ];
  return parts.filter((p) => p !== null);
}

export function renderFooter(chrome: Chrome): HTMLElement[] {
  const { site } = chrome;
  // The seed page's row: 网站首页 | the standing pages | 网站地图 | the ICP number.
  const links: HTMLElement[] = [
    h('a', { href: '#/' }, '网站首页'),
    ...site.footerPages.map((p) => h('a', { href: pageHref(p.slug), 'data-slug': p.slug, class: 'footer-page' }, p.title)),
    h('a', { href: `${API_URL}/sitemap.xml` }, '网站地图'),
  ];
  return [
    h('p', { class: 'footer-links', id: 'footer-pages' }, links.flatMap((a, i) => (i ? [h('span', { class: 'sep' }, ' | '), a] : [a]))),
    h(
      'p',
      { class: 'filings' },
      site.icpFiling
        ? h('a', { id: 'icp', href: 'https://beian.miit.gov.cn/', rel: 'noopener noreferrer' }, site.icpFiling)
        : null,
      site.publicSecurityFiling
        ? h('a', { id: 'public-security', href: 'https://beian.mps.gov.cn/', rel: 'noopener noreferrer' }, site.publicSecurityFiling)
        : null,
    ),
  ];
}
