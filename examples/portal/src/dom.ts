// Building the page without ever handing text to the HTML parser of the live document.
//
// Everything the API returns is data. Plain fields (titles, names, leads, the disclaimer) become
// text nodes through `h`, so markup in them shows as the characters it is. Two fields are HTML
// by contract: an article's or page's body (sanitized by the API) and a search snippet (escaped
// text with the highlight markers around each match). Neither goes through `innerHTML`: `fromHtml`
// parses it with DOMParser into a separate, inert document (no browsing context, so its scripts
// never run and its images and frames never load), then copies into the page only the elements
// of an allow-list, as new elements carrying only allow-listed attributes with checked URLs; any
// other element is replaced by its text, and script-like elements are dropped whole. So the
// portal's safety does not rest on the API's sanitizer alone: a snippet can yield nothing but text
// and <mark>, a body nothing but the formatting tags below.

type Child = Node | string | null | undefined | false;

/** An element with attributes and children; strings become text nodes, never markup. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined) el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** The tags a sanitized body may keep. */
export const BODY_TAGS: ReadonlySet<string> = new Set([
  'p', 'br', 'hr', 'h2', 'h3', 'h4', 'h5', 'h6', 'strong', 'b', 'em', 'i', 'u', 's', 'sub', 'sup',
  'blockquote', 'ul', 'ol', 'li', 'pre', 'code', 'a', 'img', 'figure', 'figcaption', 'table',
  'thead', 'tbody', 'tr', 'th', 'td', 'span', 'div', 'mark',
]);

/** The only tag a search snippet may hold. */
export const SNIPPET_TAGS: ReadonlySet<string> = new Set(['mark']);

/** Dropped with everything inside them: their text is not content. */
const DROPPED = new Set(['script', 'style', 'template', 'noscript', 'iframe', 'object', 'embed', 'svg', 'math', 'head', 'title']);

/** `value` when it is an http(s) URL or a path on this site, else `undefined`. */
export function safeUrl(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (trimmed.startsWith('/') && !trimmed.startsWith('//')) return trimmed;
  try {
    const url = new URL(trimmed);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** The allow-listed part of `html`, as new nodes of this document. */
export function fromHtml(html: string, allowed: ReadonlySet<string>): DocumentFragment {
  const parsed = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
  const out = document.createDocumentFragment();
  copyChildren(parsed.body, out, allowed);
  return out;
}

function copyChildren(from: Node, to: Node, allowed: ReadonlySet<string>): void {
  for (const node of Array.from(from.childNodes)) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.appendChild(document.createTextNode(node.textContent ?? ''));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const source = node as Element;
      const tag = source.localName;
      if (DROPPED.has(tag)) continue;
      if (!allowed.has(tag)) {
        copyChildren(source, to, allowed);
        continue;
      }
      const copy = document.createElement(tag);
      copyAttributes(source, copy);
      copyChildren(source, copy, allowed);
      to.appendChild(copy);
    }
    // Comments, processing instructions and the like carry nothing a reader sees.
  }
}

function copyAttributes(source: Element, copy: HTMLElement): void {
  const tag = source.localName;
  if (tag === 'a') {
    const href = safeUrl(source.getAttribute('href'));
    if (href) {
      copy.setAttribute('href', href);
      copy.setAttribute('rel', 'noopener noreferrer nofollow');
    }
  } else if (tag === 'img') {
    const src = safeUrl(source.getAttribute('src'));
    if (src) copy.setAttribute('src', src);
    copy.setAttribute('alt', source.getAttribute('alt') ?? '');
    copy.setAttribute('loading', 'lazy');
  }
  const title = source.getAttribute('title');
  if (title) copy.setAttribute('title', title);
  if ((tag === 'td' || tag === 'th') && source.hasAttribute('colspan')) {
    copy.setAttribute('colspan', String(Number.parseInt(source.getAttribute('colspan') ?? '1', 10) || 1));
  }
}

/** The site's time zone is China Standard Time (UTC+8, no daylight saving). */
const SITE_OFFSET_MS = 8 * 3600 * 1000;

/** `2020-07-03` for a publish time, in the site's time zone. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : new Date(ms + SITE_OFFSET_MS).toISOString().slice(0, 10);
}

/** The hash route of an article. */
export const articleHref = (slug: string): string => `#/article/${encodeURIComponent(slug)}`;
/** The hash route of a channel's list. */
export const channelHref = (slug: string): string => `#/channel/${encodeURIComponent(slug)}`;
/** The hash route of a tag's list. */
export const tagHref = (slug: string): string => `#/tag/${encodeURIComponent(slug)}`;
/** The hash route of a standing page. */
export const pageHref = (slug: string): string => `#/page/${encodeURIComponent(slug)}`;
