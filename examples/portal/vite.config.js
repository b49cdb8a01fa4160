// Vite configuration of the portal. The API's address is fixed at build time from
// NEWSROOM_API_URL (default http://127.0.0.1:8080, where `make run` serves), so the built files
// are plain static files any web server can serve.
import { defineConfig } from 'vite';

function apiUrl() {
  const raw = process.env.NEWSROOM_API_URL || 'http://127.0.0.1:8080';
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`NEWSROOM_API_URL: \`${raw}\` is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`NEWSROOM_API_URL: \`${raw}\` must be an http:// or https:// URL`);
  }
  // The portal appends /graphql and /api/v1/...: keep a path prefix, drop a trailing slash.
  return url.href.replace(/\/+$/, '');
}

export default defineConfig(() => {
  const api = apiUrl();
  return {
    define: { __NEWSROOM_API_URL__: JSON.stringify(api) },
    build: { target: 'es2022' },
    preview: { host: '127.0.0.1', port: 4173, strictPort: true },
    plugins: [
      {
        // A Content-Security-Policy in the built page: scripts only from the portal itself and
        // requests only to it and the API, so that even markup slipping past the portal's own
        // filtering (see src/dom.ts) could neither run script nor send data elsewhere. Only on
        // build: the dev server injects its own client and websocket.
        name: 'newsroom-csp',
        apply: 'build',
        transformIndexHtml(html) {
          const origin = new URL(api).origin;
          const policy = [
            "default-src 'self'",
            `connect-src 'self' ${origin}`,
            "img-src 'self' https: http: data:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
          ].join('; ');
          return html.replace(
            '<meta charset="utf-8" />',
            `<meta charset="utf-8" />\n    <meta http-equiv="Content-Security-Policy" content="${policy}" />`,
          );
        },
      },
    ],
  };
});
