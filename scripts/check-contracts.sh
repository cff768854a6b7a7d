#!/usr/bin/env bash
# Contract checks: buf lint and format, no breaking change against the previous commit, and
# generated code identical to what `npm run generate` produces from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf

echo "== buf lint and format"
"$buf" lint
"$buf" format --diff --exit-code

echo "== buf breaking (FILE) against the previous commit"
if git rev-parse --verify --quiet HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then
  "$buf" breaking --against ".git#ref=HEAD~1"
else
  echo "no previous commit with buf.yaml: nothing to compare against"
fi

echo "== generated code is up to date"
npm run --silent generate
if [ -n "$(git status --porcelain -- packages/proto/src)" ]; then
  git status --short -- packages/proto/src
  echo "packages/proto/src differs from what proto/ generates: run 'npm run generate' and commit the result" >&2
  exit 1
fi
echo "contracts OK"
