// The two ways the portal talks to the API: GraphQL for everything it shows, and the view beacon.

declare const __NEWSROOM_API_URL__: string;

/** The API's base URL, fixed at build time (NEWSROOM_API_URL; see vite.config.js). */
export const API_URL: string = __NEWSROOM_API_URL__;

/** A GraphQL error as the API sends it: `extensions.code` says what kind. */
export interface GraphQLError {
  message: string;
  extensions?: { code?: string; field?: string };
}

/** The request failed, or the API answered with errors. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly errors: GraphQLError[] = [],
    /** Whatever data came back beside the errors. */
    readonly data: unknown = null,
  ) {
    super(message);
  }

  /** Whether the API refused an argument (an unknown slug in a filter, a stale cursor). */
  badInput(): boolean {
    return this.errors.some((e) => e.extensions?.code === 'BAD_USER_INPUT');
  }
}

/** Runs one GraphQL operation; any error in the answer is thrown. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_URL}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError(`无法连接到 ${API_URL}`);
  }
  let body: { data?: T | null; errors?: GraphQLError[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`接口返回了无法识别的内容 (HTTP ${response.status})`);
  }
  if (body.errors?.length) {
    throw new ApiError(body.errors.map((e) => e.message).join('; '), body.errors, body.data ?? null);
  }
  if (!response.ok || body.data == null) {
    throw new ApiError(`接口返回 HTTP ${response.status}`);
  }
  return body.data;
}

const VISITOR_KEY = 'newsroom-visitor';

/**
 * This browser's visitor id, kept in localStorage, so the API counts one view per reader and
 * article within its window even when many readers share one address (an office, a proxy in
 * front of the API). Random, not derived from anything about the reader.
 */
function visitorId(): string | undefined {
  try {
    let id = localStorage.getItem(VISITOR_KEY);
    if (!id) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem(VISITOR_KEY, id);
    }
    return id;
  } catch {
    // Storage refused (privacy mode): the API falls back to address and user agent.
    return undefined;
  }
}

/**
 * Reports a view through the beacon, `POST /api/v1/articles/{id}/views` (204). `keepalive` lets
 * the request finish when the reader leaves at once. Resolves to whether the API accepted it.
 */
export async function reportView(articleId: string): Promise<boolean> {
  const headers: Record<string, string> = {};
  const visitor = visitorId();
  if (visitor) headers['x-visitor-id'] = visitor;
  try {
    const response = await fetch(`${API_URL}/api/v1/articles/${encodeURIComponent(articleId)}/views`, {
      method: 'POST',
      headers,
      keepalive: true,
    });
    return response.status === 204;
  } catch {
    return false;
  }
}
