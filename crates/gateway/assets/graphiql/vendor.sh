#!/bin/sh
# Fetches the GraphiQL page's assets from the npm registry at the pinned versions into this folder,
# where the gateway embeds them at build time (`include_bytes!` in crates/gateway/src/graphiql.rs):
# building and running the server then needs neither npm nor a network. `npm pack` checks each
# package against the registry's integrity hash; SHA256SUMS records what was vendored, and
# `make graphiql-assets` (this script) rewrites it. Run from the repository root.
set -eu
GRAPHIQL=4.1.2
REACT=18.3.1
dir=crates/gateway/assets/graphiql
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir "$tmp/$pkg"
  tar xzf "$tmp/$pkg.tgz" -C "$tmp/$pkg"
done
# The source map is not vendored, so the bundle must not point at it.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/graphiql-$GRAPHIQL/package/graphiql.min.js" > "$dir/graphiql.min.js"
cp "$tmp/graphiql-$GRAPHIQL/package/graphiql.min.css" "$dir/graphiql.min.css"
cp "$tmp/graphiql-$GRAPHIQL/package/LICENSE" "$dir/LICENSE.graphiql"
cp "$tmp/react-$REACT/package/umd/react.production.min.js" "$dir/react.production.min.js"
cp "$tmp/react-$REACT/package/LICENSE" "$dir/LICENSE.react"
cp "$tmp/react-dom-$REACT/package/umd/react-dom.production.min.js" "$dir/react-dom.production.min.js"
printf 'graphiql %s\nreact %s\nreact-dom %s\n' "$GRAPHIQL" "$REACT" "$REACT" > "$dir/VERSIONS"
(cd "$dir" && sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS)
