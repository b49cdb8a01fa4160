// Starts GraphiQL: queries and mutations go to POST /graphql, subscriptions over a WebSocket on
// the same path (graphql-transport-ws). The headers typed in GraphiQL's header editor, such as
// {"Authorization": "Bearer <token>"}, go with each HTTP request and into the WebSocket's
// connection_init payload, which is where the server reads a subscriber's token.
(function () {
  'use strict';
  var http = window.location.origin + '/graphql';
  var ws = http.replace(/^http/, 'ws');
  var defaultQuery = [
    '# Queries and mutations run over HTTP; subscriptions over a WebSocket on /graphql.',
    '# Put {"Authorization": "Bearer <token>"} in the Headers tab to sign in (partners, editors).',
    '',
    'subscription NewArticles {',
    '  articlePublished {',
    '    title',
    '    publishedAt',
    '    channel { name }',
    '    source { name }',
    '  }',
    '}',
    '',
    'query Latest {',
    '  articles(first: 5) { edges { node { title publishedAt channel { name } } } }',
    '}',
    ''
  ].join('\n');
  var fetcher = GraphiQL.createFetcher({ url: http, subscriptionUrl: ws });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: defaultQuery })
  );
})();
