// The portal's browser test: the real `newsroom` server (built with cargo, `serve --demo` on a
// fresh SQLite file, a free port, CORS allowing only the portal's origin), the built portal served
// by `vite preview`, and Debian's Chromium driven by playwright-core. Every box on the page is
// compared with the answer the test itself gets from the GraphQL API, beside a few strings of the
// seed page; then paging, the ranking tabs, the view beacon, search, markup in content, and a
// takedown.
//
// `make test-portal` runs it. Settings: NEWSROOM_BIN (a built `newsroom` binary: skips the cargo
// build), CARGO, CHROMIUM (default /usr/bin/chromium). Screenshots of failed steps go to
// test-results/.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const PORTAL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.resolve(PORTAL_DIR, '../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SEED = 'nanchang-kaifaqu-2020-ganbu-dahui';
const EDITOR = { username: 'portal-editor', password: randomBytes(18).toString('hex') };

// Strings of the seed page (shared/seed/portal-article-page.txt) the demo content must show.
const SEED_PAGE = {
  slogan: '科技是第一生产力、人才是第一资源、创新是第一动力 加快建设科技强国,实现高水平科技自立自强',
  nav: ['氢能科技', '沙蓬绿色种养产业模式', '联源科技', '超联科技', '园区'],
  title: '奋力“双过半”, 勇夺“全年胜”! 南昌开发区召开2020年全区干部大会',
  date: '2020-07-03',
  source: '南昌开发区',
  lead: '6月27日下午,全区干部大会顺利召开,区党工委书记赵海东出席会议并讲话,区党工委副书记程建兵主持会议。',
  disclaimerStart: '本网转载自其它媒体的文章,目的在于弘扬科技创新精神',
  footer: ['关于我们', '联系方式', '使用说明', '隐私政策', '免责声明'],
  icp: '粤ICP备05102027号',
  publicSecurity: '粤公网安备 44040202001358号',
};

/** Everything the test started, to stop in `after`. */
const run = { dir: '', server: null, preview: null, browser: null, api: '', portal: '', serverLog: [], problems: [] };

// ---------------------------------------------------------------------------------------------
// Processes

/** A port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end; rejects with its output when it fails. */
function exec(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (options.echo) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${stderr.slice(-4000)}`)),
    );
  });
}

/**
 * The `newsroom` binary: NEWSROOM_BIN, else built by cargo (in CARGO_TARGET_DIR when set) and
 * copied at once into the test's own directory, since a shared target directory's binary may be
 * replaced by another build while the test runs.
 */
async function newsroomBinary() {
  const copy = path.join(run.dir, 'newsroom');
  if (process.env.NEWSROOM_BIN) {
    await copyFile(process.env.NEWSROOM_BIN, copy);
    return copy;
  }
  const out = await exec(process.env.CARGO || 'cargo', ['build', '--bin', 'newsroom', '--message-format=json-render-diagnostics'], {
    cwd: REPO,
    echo: true,
  });
  const artifact = out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .find((m) => m.reason === 'compiler-artifact' && m.target?.name === 'newsroom' && m.executable);
  assert.ok(artifact, 'cargo built no `newsroom` executable');
  await copyFile(artifact.executable, copy);
  return copy;
}

/** The server's environment: this process's, less any Newsroom setting the caller had. */
function serverEnv(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('NEWSROOM_') && key !== 'DATABASE_URL' && key !== 'REDIS_URL' && key !== 'RUST_LOG') env[key] = value;
  }
  return { ...env, ...extra };
}

/** Starts a long-running process and resolves once `ready()` says so; rejects if it exits first. */
function start(command, args, options, ready, log) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let done = false;
    const onData = (d) => {
      for (const line of String(d).split('\n')) if (line) log.push(line);
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => !done && ((done = true), reject(e)));
    child.on('exit', (code) => {
      if (!done) {
        done = true;
        reject(new Error(`${path.basename(command)} exited with ${code} before it was ready:\n${log.slice(-40).join('\n')}`));
      }
    });
    (async () => {
      for (let i = 0; i < 1200 && !done; i++) {
        if (await ready().catch(() => false)) {
          done = true;
          resolve(child);
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!done) {
        done = true;
        child.kill('SIGTERM');
        reject(new Error(`${path.basename(command)} was not ready within 120 s:\n${log.slice(-40).join('\n')}`));
      }
    })();
  });
}

async function stop(child) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

// ---------------------------------------------------------------------------------------------
// The API, as the test asks it

async function gql(query, variables = {}, token, extraHeaders = {}) {
  const headers = { 'content-type': 'application/json', ...extraHeaders };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${run.api}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  assert.equal(body.errors, undefined, `GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** What every box of the seed article's page should show, straight from the API. */
async function expectedArticlePage(slug, window = 'WEEK') {
  const data = await gql(
    `query ($slug: String!, $window: RankingWindow!) {
      site { name slogan icpFiling publicSecurityFiling footerPages { slug title } }
      channels { slug name children { slug name } }
      article(slug: $slug) {
        id title publishedAt viewCount lead body text: body(format: TEXT)
        source { name } channel { slug } tags { slug name }
        disclaimer { text }
        related(first: 8) { slug title }
      }
      featured: recommended(kind: WITH_IMAGE, first: 4) { slug title coverImage }
      picks: recommended(kind: TEXT, first: 8) { slug title }
      clickRanking(window: $window, first: 10) { rank views article { slug title } }
    }`,
    { slug, window },
  );
  return data;
}

const articleHref = (slug) => `#/article/${encodeURIComponent(slug)}`;
const channelHref = (slug) => `#/channel/${encodeURIComponent(slug)}`;
const links = (items) => items.map((a) => ({ text: a.title, href: articleHref(a.slug) }));
const rankingRows = (rows) => rows.map((r) => ({ rank: String(r.rank), text: r.article.title, href: articleHref(r.article.slug), views: String(r.views) }));
/** A publish time as the site shows it: the date in China Standard Time. */
const siteDate = (iso) => new Date(Date.parse(iso) + 8 * 3600 * 1000).toISOString().slice(0, 10);
/** The escaped text of a snippet with its markers, as [text | {mark: text}] runs. */
function snippetRuns(snippet) {
  const unescape = (s) =>
    s.replace(/&(lt|gt|quot|#39|#x27|amp);/g, (_, e) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", amp: '&' })[e]);
  const runs = [];
  for (const [i, part] of snippet.split(/<mark>|<\/mark>/).entries()) {
    if (part) runs.push(i % 2 ? { mark: unescape(part) } : unescape(part));
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
// The page, as the test reads it

/** Opens a route in a new or the given page and waits until the portal says it is complete. */
async function open(page, hash) {
  const url = `${run.portal}/${hash}`;
  if (page.url().startsWith(run.portal)) {
    await page.evaluate((h) => (location.hash = h), hash);
  } else {
    await page.goto(url);
  }
  await settled(page);
}

/** Waits until the page shows the route in the address bar, or an error for it. */
async function settled(page) {
  await page.waitForFunction(() => document.body.dataset.route === (location.hash || '#/') && document.body.dataset.state !== 'loading', null, {
    timeout: 30_000,
  });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state !== 'ready') assert.fail(`the page shows an error: ${await page.textContent('#app')}`);
}

/** Everything the article page shows, box by box. */
function readArticlePage(page) {
  return page.evaluate(() => {
    const text = (sel) => document.querySelector(sel)?.textContent ?? null;
    const links = (sel) => [...document.querySelectorAll(sel)].map((a) => ({ text: a.textContent, href: a.getAttribute('href') }));
    return {
      siteName: text('#site-name'),
      slogan: text('#slogan'),
      nav: links('#channels a[data-slug]'),
      subnav: links('#subchannels a'),
      title: text('#article-title'),
      date: text('#article-date'),
      source: text('#article-source'),
      views: text('#view-count'),
      lead: text('#article-lead span'),
      body: [...document.querySelectorAll('#article-body > *')].map((e) => [e.localName, e.textContent]),
      tags: links('#article-tags a'),
      disclaimer: text('#disclaimer .text'),
      related: links('#related li a'),
      relatedMore: document.querySelector('#related .more')?.getAttribute('href') ?? null,
      featured: [...document.querySelectorAll('#featured li a')].map((a) => ({
        text: a.querySelector('.title')?.textContent,
        href: a.getAttribute('href'),
        image: a.querySelector('img')?.getAttribute('src') ?? null,
        imageLoaded: (a.querySelector('img')?.naturalWidth ?? 0) > 0,
      })),
      recommended: links('#recommended li a'),
      ranking: readRankingIn(document),
      footer: links('#footer-pages a.footer-page'),
      icp: text('#icp'),
      publicSecurity: text('#public-security'),
    };
    function readRankingIn(doc) {
      const box = doc.querySelector('#ranking');
      return {
        window: box?.getAttribute('data-window') ?? null,
        selected: [...doc.querySelectorAll('#ranking [role=tab][aria-selected=true]')].map((t) => t.getAttribute('data-window')),
        rows: [...doc.querySelectorAll('#ranking ol li')].map((li) => ({
          rank: li.querySelector('.rank')?.textContent,
          text: li.querySelector('a')?.textContent,
          href: li.querySelector('a')?.getAttribute('href'),
          views: li.querySelector('.views')?.textContent,
        })),
      };
    }
  });
}

/** The blocks of an HTML body as [tag, text], parsed by the browser apart from the portal. */
function blocksOf(page, html) {
  return page.evaluate((h) => [...new DOMParser().parseFromString(h, 'text/html').body.children].map((e) => [e.localName, e.textContent]), html);
}

/** Asserts every box of the article page against the API's answer. */
async function assertArticlePage(page, expected) {
  // The cover images load after the page is built; wait until each has loaded or failed.
  await page.waitForFunction(() => [...document.querySelectorAll('#featured img')].every((img) => img.complete));
  const shown = await readArticlePage(page);
  const a = expected.article;
  assert.equal(shown.siteName, expected.site.name, 'site name');
  assert.equal(shown.slogan, expected.site.slogan, 'slogan');
  assert.deepEqual(shown.nav, expected.channels.map((c) => ({ text: c.name, href: channelHref(c.slug) })), 'channel navigation');
  assert.deepEqual(
    shown.subnav,
    expected.channels.flatMap((c) => c.children.map((k) => ({ text: k.name, href: channelHref(k.slug) }))),
    'sub-channels',
  );
  assert.equal(shown.title, a.title, 'title');
  assert.equal(shown.date, siteDate(a.publishedAt), 'date');
  assert.equal(shown.source, a.source?.name ?? null, 'source');
  assert.equal(shown.views, String(a.viewCount), 'view count');
  assert.equal(shown.lead, a.lead, 'lead (核心提示)');
  assert.deepEqual(shown.body, await blocksOf(page, a.body), 'body, block by block');
  assert.deepEqual(shown.body.map(([, text]) => text), a.text.split('\n\n'), 'body text, paragraph by paragraph');
  assert.deepEqual(shown.tags, a.tags.map((t) => ({ text: t.name, href: `#/tag/${t.slug}` })), 'tags');
  assert.equal(shown.disclaimer, a.disclaimer?.text ?? null, 'disclaimer (免责声明)');
  assert.deepEqual(shown.related, links(a.related), '同类资讯');
  assert.equal(shown.relatedMore, channelHref(a.channel.slug), '同类资讯 更多>');
  assert.deepEqual(
    shown.featured.map(({ text, href, image }) => ({ text, href, image })),
    expected.featured.map((f) => ({ text: f.title, href: articleHref(f.slug), image: f.coverImage })),
    '推荐图文',
  );
  assert.ok(shown.featured.every((f) => f.imageLoaded), `推荐图文 images load: ${JSON.stringify(shown.featured)}`);
  assert.deepEqual(shown.recommended, links(expected.picks), '推荐资讯');
  assert.equal(shown.ranking.window, 'WEEK', '点击排行 opens on the API default window');
  assert.deepEqual(shown.ranking.rows, rankingRows(expected.clickRanking), '点击排行');
  assert.deepEqual(shown.footer, expected.site.footerPages.map((p) => ({ text: p.title, href: `#/page/${p.slug}` })), 'footer pages');
  assert.equal(shown.icp, expected.site.icpFiling, 'ICP filing');
  assert.equal(shown.publicSecurity, expected.site.publicSecurityFiling, 'public-security filing');
  return shown;
}

/** The titles and links of the list on a list page, with its count and pager. */
function readList(page) {
  return page.evaluate(() => ({
    items: [...document.querySelectorAll('#articles li h3 a')].map((a) => ({ text: a.textContent, href: a.getAttribute('href') })),
    total: document.querySelector('#total-count')?.textContent ?? null,
    prev: document.querySelector('#prev-page') !== null,
    next: document.querySelector('#next-page') !== null,
  }));
}

const LIST = `query ($first: Int, $after: String, $last: Int, $before: String, $filter: ArticleFilterInput) {
  articles(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { slug title }
  }
}`;

async function expectList(variables) {
  return (await gql(LIST, variables)).articles;
}

function assertList(shown, expected, what) {
  assert.deepEqual(shown.items, links(expected.nodes), `${what}: the articles`);
  assert.equal(shown.total, String(expected.totalCount), `${what}: the count`);
  assert.equal(shown.next, expected.pageInfo.hasNextPage, `${what}: 下一页`);
  assert.equal(shown.prev, expected.pageInfo.hasPreviousPage, `${what}: 上一页`);
}

/** Runs a step; on failure keeps a screenshot in test-results/ and says where. */
async function step(page, name, fn) {
  try {
    return await fn();
  } catch (e) {
    const dir = path.join(PORTAL_DIR, 'test-results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    e.message += `\n(screenshot: ${file}; page: ${page.url()})`;
    if (run.serverLog.length) e.message += `\nthe server's last words:\n${run.serverLog.slice(-20).join('\n')}`;
    throw e;
  }
}

/**
 * A reader's browser profile. Headless Chromium says `HeadlessChrome` in its user agent, and the
 * API rightly counts no view from a bot; a reader's Chromium says `Chrome`.
 */
function readerContext() {
  return run.browser.newContext({ userAgent: run.userAgent });
}

/** A page that records console errors and uncaught exceptions as problems. */
async function newPage(context) {
  const page = await context.newPage();
  page.on('pageerror', (e) => run.problems.push(`uncaught in the page: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && run.problems.push(`console error: ${m.text()}`));
  return page;
}

/** Polls the API until `check` holds (views are written every NEWSROOM_VIEW_FLUSH_MS and NEWSROOM_VIEW_TOTALS_MS). */
async function eventually(what, fn, check) {
  let last;
  for (let i = 0; i < 300; i++) {
    last = await fn();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: still ${JSON.stringify(last)} after 30 s`);
}

// ---------------------------------------------------------------------------------------------

describe('the portal on the real API', { timeout: 30 * 60 * 1000 }, () => {
  let browser;
  let page;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: \`apt-get install chromium\`, or set CHROMIUM`);
    run.dir = await mkdtemp(path.join(os.tmpdir(), 'newsroom-portal-'));
    const bin = await newsroomBinary();
    const [apiPort, portalPort] = [await freePort(), await freePort()];
    run.api = `http://127.0.0.1:${apiPort}`;
    run.portal = `http://127.0.0.1:${portalPort}`;
    const env = serverEnv({
      DATABASE_URL: `sqlite://${path.join(run.dir, 'newsroom.db')}?mode=rwc`,
      NEWSROOM_BIND: `127.0.0.1:${apiPort}`,
      NEWSROOM_CORS_ORIGINS: run.portal,
      NEWSROOM_JWT_SECRET: randomBytes(32).toString('hex'),
      // Views reach the rankings and the articles' totals within a tenth of a second; a ranking,
      // once computed, stays, so the page and the test read the same one (a takedown still leaves
      // it at once).
      NEWSROOM_VIEW_FLUSH_MS: '100',
      NEWSROOM_VIEW_TOTALS_MS: '100',
      NEWSROOM_RANKING_REFRESH_SECS: '3600',
      RUST_LOG: 'warn',
    });
    await exec(bin, ['user', 'create', '--role', 'editor', '--username', EDITOR.username], {
      env: { ...env, NEWSROOM_USER_PASSWORD: EDITOR.password },
    });
    run.server = await start(
      bin,
      ['serve', '--demo'],
      { env },
      async () => (await fetch(`${run.api}/readyz`)).ok,
      run.serverLog,
    );

    // The portal, built for this API into the test's directory and served as a reader gets it.
    const vite = path.join(PORTAL_DIR, 'node_modules/vite/bin/vite.js');
    const dist = path.join(run.dir, 'dist');
    await exec(process.execPath, [vite, 'build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: PORTAL_DIR,
      env: { ...process.env, NEWSROOM_API_URL: run.api },
    });
    run.preview = await start(
      process.execPath,
      [vite, 'preview', '--outDir', dist, '--host', '127.0.0.1', '--port', String(portalPort), '--strictPort'],
      { cwd: PORTAL_DIR },
      async () => (await fetch(run.portal)).ok,
      [],
    );

    // --no-sandbox: Chromium's sandbox refuses to run as root, which CI is.
    browser = run.browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    run.userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`;
    page = await newPage(await readerContext());
  });

  after(async () => {
    await run.browser?.close();
    await stop(run.preview);
    await stop(run.server);
    if (run.dir) await rm(run.dir, { recursive: true, force: true });
  });

  let seedViews;

  test('the article page shows every box of the seed page as the API holds it', async () => {
    const expected = await expectedArticlePage(SEED);
    seedViews = expected.article.viewCount;
    await step(page, 'article page', async () => {
      await open(page, articleHref(SEED));
      const shown = await assertArticlePage(page, expected);
      // And the API holds the seed page: a few of its strings, as the page printed them.
      assert.equal(shown.slogan, SEED_PAGE.slogan);
      assert.deepEqual(shown.nav.map((n) => n.text), SEED_PAGE.nav);
      assert.equal(shown.title, SEED_PAGE.title);
      assert.equal(shown.date, SEED_PAGE.date);
      assert.equal(shown.source, SEED_PAGE.source);
      assert.equal(shown.lead, SEED_PAGE.lead);
      assert.ok(shown.disclaimer?.startsWith(SEED_PAGE.disclaimerStart), shown.disclaimer);
      assert.ok(shown.body.some(([tag, text]) => tag === 'h2' && text === '机制保障'), 'the body keeps its section headings');
      assert.deepEqual(shown.footer.map((f) => f.text), SEED_PAGE.footer);
      assert.equal(shown.icp, SEED_PAGE.icp);
      assert.equal(shown.publicSecurity, SEED_PAGE.publicSecurity);
      assert.equal(shown.related.length, 8);
      assert.equal(shown.featured.length, 4);
      assert.equal(shown.ranking.rows.length, 10);
      assert.equal(await page.title(), `${SEED_PAGE.title} - ${expected.site.name}`);
    });
  });

  test('the view beacon counts the view, once per visitor', async () => {
    await step(page, 'view beacon', async () => {
      await page.waitForFunction(() => document.body.dataset.view && document.body.dataset.view !== 'pending');
      assert.equal(await page.evaluate(() => document.body.dataset.view), 'sent', 'the beacon was accepted (204)');
      const count = () => gql(`{ article(slug: "${SEED}") { viewCount } }`).then((d) => d.article.viewCount);
      await eventually('the view count after the beacon', count, (n) => n === seedViews + 1);

      // Reloaded, the page shows the new count; the same visitor is not counted again, which the
      // API confirms for the visitor id the page sent.
      await page.reload();
      await settled(page);
      assert.equal(await page.textContent('#view-count'), String(seedViews + 1));
      await page.waitForFunction(() => document.body.dataset.view === 'sent');
      const visitor = await page.evaluate(() => localStorage.getItem('newsroom-visitor'));
      assert.match(visitor ?? '', /^[0-9a-f]{32}$/);
      const view = (visitorId) =>
        gql(
          `mutation ($id: ID!, $visitor: String!) { recordView(articleId: $id, visitorId: $visitor) { counted } }`,
          { id: seedId, visitor: visitorId },
          undefined,
          { 'user-agent': run.userAgent },
        ).then((d) => d.recordView.counted);
      const seedId = await page.getAttribute('#article', 'data-id');
      assert.equal(await view(visitor), false, 'the beacon named the visitor (X-Visitor-Id)');
      assert.equal(await view(`control-${Date.now()}`), true, 'another visitor id counts');
      await eventually('the view count after the control view', count, (n) => n === seedViews + 2);

      // Another reader (another browser profile) counts.
      const other = await newPage(await readerContext());
      await open(other, articleHref(SEED));
      await other.waitForFunction(() => document.body.dataset.view === 'sent');
      await eventually('the view count after a second reader', count, (n) => n === seedViews + 3);
      await other.context().close();
    });
  });

  test('the click ranking has a tab for each window', async () => {
    await step(page, 'ranking tabs', async () => {
      await open(page, articleHref(SEED));
      const seen = new Set();
      for (const window of ['DAY', 'WEEK', 'MONTH', 'ALL', 'WEEK']) {
        await page.click(`#ranking [role=tab][data-window=${window}]`);
        await page.waitForSelector(`#ranking[data-window=${window}]:not([aria-busy])`);
        const { ranking } = await readArticlePage(page);
        const expected = (await gql(`{ clickRanking(window: ${window}, first: 10) { rank views article { slug title } } }`)).clickRanking;
        assert.deepEqual(ranking.selected, [window], `${window}: the selected tab`);
        assert.deepEqual(ranking.rows, rankingRows(expected), `${window}: the ranking`);
        seen.add(JSON.stringify(ranking.rows));
      }
      assert.ok(seen.size >= 3, 'the windows rank differently in the demo content');
    });
  });

  test('a channel lists its articles in pages, forwards and back', async () => {
    await step(page, 'channel paging', async () => {
      await open(page, '#/');
      await page.click('#channels a[data-slug=parks]');
      await settled(page);
      assert.equal(await page.textContent('#list-title'), '园区');
      const filter = { channel: 'parks' };
      const first = await expectList({ first: 20, filter });
      assertList(await readList(page), first, 'page 1');
      assert.ok(first.totalCount > 40, 'the demo fills three pages of 园区');

      await page.click('#next-page');
      await settled(page);
      const second = await expectList({ first: 20, after: first.pageInfo.endCursor, filter });
      assertList(await readList(page), second, 'page 2');
      assert.ok(page.url().includes('after='), page.url());

      await page.click('#next-page');
      await settled(page);
      const third = await expectList({ first: 20, after: second.pageInfo.endCursor, filter });
      assertList(await readList(page), third, 'page 3');

      await page.click('#prev-page');
      await settled(page);
      const back = await expectList({ last: 20, before: third.pageInfo.startCursor, filter });
      assert.deepEqual(back.nodes, second.nodes, 'the API pages back to page 2');
      assertList(await readList(page), back, 'page 2 again');

      await page.click('#prev-page');
      await settled(page);
      const start = await expectList({ last: 20, before: back.pageInfo.startCursor, filter });
      assert.deepEqual(start.nodes, first.nodes);
      assertList(await readList(page), start, 'page 1 again');
      assert.equal((await readList(page)).prev, false);

      // A sub-channel and the home page list the same way.
      await page.click('#subchannels a[data-slug=park-news]');
      await settled(page);
      assertList(await readList(page), await expectList({ first: 20, filter: { channel: 'park-news' } }), '园区动态');
      await open(page, '#/');
      assertList(await readList(page), await expectList({ first: 20 }), 'the home page');
    });
  });

  test('search shows the hits with their highlighted snippets', async () => {
    await step(page, 'search', async () => {
      await open(page, articleHref(SEED));
      await page.fill('#search-input', '双过半');
      await page.press('#search-input', 'Enter');
      await settled(page);
      const SEARCH = `query ($q: String!, $after: String) { search(query: $q, first: 10, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { snippet article { slug title } } } }`;
      const readHits = () =>
        page.evaluate(() =>
          [...document.querySelectorAll('#hits > li')].map((li) => ({
            text: li.querySelector('h3 a')?.textContent,
            href: li.querySelector('h3 a')?.getAttribute('href'),
            snippet: [...li.querySelector('.snippet').childNodes].map((n) =>
              n.nodeType === Node.TEXT_NODE ? n.textContent : { [n.localName]: n.textContent, children: n.children.length },
            ),
          })),
        );
      const expectHits = (search) =>
        search.nodes.map((n) => ({
          text: n.article.title,
          href: articleHref(n.article.slug),
          snippet: snippetRuns(n.snippet).map((r) => (typeof r === 'string' ? r : { mark: r.mark, children: 0 })),
        }));
      const first = (await gql(SEARCH, { q: '双过半' })).search;
      assert.equal(await page.textContent('#search-query'), '双过半');
      assert.equal(await page.textContent('#total-count'), String(first.totalCount));
      const hits = await readHits();
      assert.deepEqual(hits, expectHits(first), 'page 1 of the hits');
      assert.equal(hits[0].href, articleHref(SEED), 'the seed article comes first');
      assert.ok(hits[0].snippet.some((r) => r.mark === '双过半'), JSON.stringify(hits[0].snippet));

      assert.ok(first.pageInfo.hasNextPage);
      await page.click('#next-page');
      await settled(page);
      const second = (await gql(SEARCH, { q: '双过半', after: first.pageInfo.endCursor })).search;
      assert.deepEqual(await readHits(), expectHits(second), 'page 2 of the hits');

      // Words with no hit.
      await open(page, `#/search?q=${encodeURIComponent('没有这个词语')}`);
      assert.equal(await page.isVisible('#no-hits'), true);
    });
  });

  test('markup in content and in a query is shown as text, never run', async () => {
    await step(page, 'markup', async () => {
      // A query that is markup: shown as typed, no element made of it.
      const hostile = '<img src=x onerror="window.__pwned=1">';
      await open(page, `#/search?${new URLSearchParams({ q: hostile })}`);
      assert.equal(await page.textContent('#search-query'), hostile);
      assert.equal(await page.locator('#search img').count(), 0);

      // An article whose title, lead and body carry markup.
      const { login } = await gql(`mutation ($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`, {
        u: EDITOR.username,
        p: EDITOR.password,
      });
      const title = '<img src=x onerror="window.__pwned=2">标记测试';
      const created = await gql(
        `mutation ($input: CreateArticleInput!) { createArticle(input: $input) { id version } }`,
        {
          input: {
            title,
            slug: 'portal-markup-test',
            lead: '<b>核心</b>提示 & "引号"',
            body: '<p>正文<script>window.__pwned=3</script><img src="x" onerror="window.__pwned=4"><a href="javascript:window.__pwned=5">链接</a>氢能标记</p>',
            bodyFormat: 'HTML',
            channel: 'hydrogen',
          },
        },
        login.token,
      );
      await gql(`mutation ($id: ID!, $v: Int!) { publishArticle(id: $id, version: $v) { status } }`, { id: created.createArticle.id, v: created.createArticle.version }, login.token);

      await open(page, '#/');
      assert.equal((await readList(page)).items[0]?.text, title, 'the title, as text, heads the newest list');
      // Asked before the page loads, whose beacon then counts a view.
      const expected = await expectedArticlePage('portal-markup-test');
      await open(page, articleHref('portal-markup-test'));
      await assertArticlePage(page, expected);
      assert.equal(await page.textContent('#article-title'), title);
      assert.equal(await page.textContent('#article-lead span'), '<b>核心</b>提示 & "引号"');
      assert.equal(await page.locator('#article-body script').count(), 0);
      const hrefs = await page.$$eval('#article-body a', (as) => as.map((a) => a.getAttribute('href')));
      assert.ok(hrefs.every((h) => h === null || /^https?:|^\//.test(h)), JSON.stringify(hrefs));
      const handlers = await page.$$eval('#app *', (els) => els.flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')));
      assert.deepEqual(handlers, []);
      await page.click('#article-body a').catch(() => {});
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script from the content ran');
    });
  });

  test('a footer page opens from the footer', async () => {
    await step(page, 'footer page', async () => {
      await open(page, articleHref(SEED));
      await page.click('#footer-pages a[data-slug=about]');
      await settled(page);
      const { page: about } = await gql(`{ page(slug: "about") { title body } }`);
      assert.equal(await page.textContent('#page-title'), about.title);
      const blocks = await page.$$eval('#page-body > *', (els) => els.map((e) => [e.localName, e.textContent]));
      assert.deepEqual(blocks, await blocksOf(page, about.body));
    });
  });

  test('a taken-down article disappears from every box', async () => {
    await step(page, 'takedown', async () => {
      const before = await expectedArticlePage(SEED);
      const inBoxes = (slug, e) => [
        ...e.article.related.map((r) => r.slug).filter((s) => s === slug).map(() => '同类资讯'),
        ...e.featured.filter((f) => f.slug === slug).map(() => '推荐图文'),
        ...e.picks.filter((f) => f.slug === slug).map(() => '推荐资讯'),
        ...e.clickRanking.filter((r) => r.article.slug === slug).map(() => '点击排行'),
      ];
      // The related article that shows in the most boxes.
      const victim = before.article.related
        .map((r) => r.slug)
        .sort((x, y) => inBoxes(y, before).length - inBoxes(x, before).length)[0];
      const boxes = inBoxes(victim, before);
      const { article: target } = await gql(`{ article(slug: "${victim}") { id title channel { slug } } }`);
      await open(page, articleHref(SEED));
      const selector = `a[href="${articleHref(victim)}"]`;
      assert.equal(await page.locator(selector).count(), boxes.length, `before: ${victim} shows in ${boxes}`);
      const channelBefore = await expectList({ first: 20, filter: { channel: target.channel.slug } });

      // Anyone asks; an editor accepts.
      const request = await gql(
        `mutation ($id: ID!) { requestTakedown(articleId: $id, claimant: "原作者", contact: "rights@example.cn", reason: "未经授权转载") { id } }`,
        { id: target.id },
      );
      const { login } = await gql(`mutation ($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`, {
        u: EDITOR.username,
        p: EDITOR.password,
      });
      const resolved = await gql(
        `mutation ($id: ID!) { resolveTakedown(id: $id, accept: true, note: "portal test") { status } }`,
        { id: request.requestTakedown.id },
        login.token,
      );
      assert.equal(resolved.resolveTakedown.status, 'ACCEPTED');

      // The seed page again: the article is in no box, and every box is what the API now holds.
      const afterwards = await expectedArticlePage(SEED);
      assert.deepEqual(inBoxes(victim, afterwards), []);
      await page.reload();
      await settled(page);
      assert.equal(await page.locator(selector).count(), 0, `after: ${victim} is gone from ${boxes}`);
      await assertArticlePage(page, afterwards);
      for (const window of ['DAY', 'MONTH', 'ALL']) {
        await page.click(`#ranking [role=tab][data-window=${window}]`);
        await page.waitForSelector(`#ranking[data-window=${window}]:not([aria-busy])`);
        assert.equal(await page.locator(`#ranking ${selector}`).count(), 0, `点击排行 ${window}`);
      }

      // Its own page says it is gone; its channel and search no longer list it.
      await open(page, articleHref(victim));
      assert.equal(await page.isVisible('#not-found'), true);
      await open(page, channelHref(target.channel.slug));
      const channelAfter = await expectList({ first: 20, filter: { channel: target.channel.slug } });
      assert.equal(channelAfter.totalCount, channelBefore.totalCount - 1);
      assertList(await readList(page), channelAfter, 'the channel after the takedown');
      assert.equal(await page.locator(selector).count(), 0);
      await open(page, `#/search?${new URLSearchParams({ q: target.title })}`);
      assert.equal(await page.locator(`#hits ${selector}`).count(), 0, 'search no longer finds it');
    });
  });

  test('the page raised no error along the way', () => {
    assert.deepEqual(run.problems, []);
  });
});
