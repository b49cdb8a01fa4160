// The side boxes: 推荐图文 (with the cover image), 推荐资讯, and 点击排行 with a tab for each
// ranking window the API offers; a tab fetches its window's ranking.

import { gql } from '../api';
import { articleHref, formatDate, h, safeUrl } from '../dom';
import { DEFAULT_WINDOW, RANKING, type Ranked, type RankingWindow, type Sidebar, WINDOWS } from '../queries';

export function renderSidebar(sidebar: Sidebar): HTMLElement {
  return h(
    'aside',
    { class: 'sidebar' },
    h(
      'section',
      { class: 'box', id: 'featured' },
      h('h2', {}, '推荐图文'),
      h(
        'ul',
        { class: 'cards' },
        sidebar.featured.map((a) =>
          h(
            'li',
            {},
            h(
              'a',
              { href: articleHref(a.slug), 'data-slug': a.slug },
              h('img', { src: safeUrl(a.coverImage), alt: a.title }),
              h('span', { class: 'title' }, a.title),
            ),
          ),
        ),
      ),
    ),
    h(
      'section',
      { class: 'box', id: 'recommended' },
      h('h2', {}, '推荐资讯'),
      h(
        'ul',
        {},
        sidebar.picks.map((a) =>
          h('li', {}, h('a', { href: articleHref(a.slug), 'data-slug': a.slug }, a.title), h('time', {}, formatDate(a.publishedAt))),
        ),
      ),
    ),
    rankingBox(sidebar.clickRanking),
  );
}

function rankingList(rows: Ranked[]): HTMLOListElement {
  return h(
    'ol',
    { class: 'ranking' },
    rows.map((r) =>
      h(
        'li',
        { 'data-rank': String(r.rank) },
        h('span', { class: 'rank' }, String(r.rank)),
        h('a', { href: articleHref(r.article.slug), 'data-slug': r.article.slug }, r.article.title),
        h('span', { class: 'views', title: '点击数' }, String(r.views)),
      ),
    ),
  );
}

function rankingBox(initial: Ranked[]): HTMLElement {
  let list = rankingList(initial);
  const box = h('section', { class: 'box', id: 'ranking', 'data-window': DEFAULT_WINDOW }, h('h2', {}, '点击排行'));
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': '排行时段' });
  let current = 0;
  const select = async (chosen: RankingWindow, tab: HTMLButtonElement) => {
    const request = ++current;
    for (const t of tabs.children) t.setAttribute('aria-selected', String(t === tab));
    box.setAttribute('aria-busy', 'true');
    try {
      const data = await gql<{ clickRanking: Ranked[] }>(RANKING, { window: chosen });
      if (request !== current) return; // a later tab was chosen meanwhile
      const next = rankingList(data.clickRanking);
      list.replaceWith(next);
      list = next;
      box.dataset.window = chosen;
      box.querySelector('.error')?.remove();
    } catch (e) {
      if (request !== current) return;
      box.querySelector('.error')?.remove();
      box.append(h('p', { class: 'error' }, `排行加载失败:${(e as Error).message}`));
    } finally {
      if (request === current) box.removeAttribute('aria-busy');
    }
  };
  for (const w of WINDOWS) {
    const tab = h(
      'button',
      { type: 'button', role: 'tab', 'data-window': w.value, 'aria-selected': String(w.value === DEFAULT_WINDOW) },
      w.label,
    );
    tab.addEventListener('click', () => void select(w.value, tab));
    tabs.append(tab);
  }
  box.append(tabs, list);
  return box;
}
