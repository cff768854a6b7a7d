#!/usr/bin/env bash
# Installs schemathesis, the API fuzzer `npm run fuzz` (scripts/fuzz.mjs) drives against the
# embedded mesh, into a virtualenv under .tools/ at the repository root, and prints where it is as
# one KEY=value line for the caller to export:
#
#   SCHEMATHESIS=/…/.tools/fuzz-venv/bin/schemathesis
#
# Idempotent: an install at the pinned version is left alone, so a second run is quick and works
# offline. Progress goes to stderr so that stdout carries only that line. Needs Python 3 with venv.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/fuzz-venv"
say() { echo "install-fuzz-tools: $*" >&2; }

installed_version() { "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true; }
if [ -x "$venv/bin/schemathesis" ] && [ "$(installed_version)" = "$SCHEMATHESIS_VERSION" ]; then
  say "schemathesis $SCHEMATHESIS_VERSION already installed"
else
  command -v python3 >/dev/null || { say "Python 3 is needed to install schemathesis"; exit 1; }
  say "installing schemathesis $SCHEMATHESIS_VERSION into a virtualenv"
  mkdir -p "$root/.tools"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi

echo "SCHEMATHESIS=$venv/bin/schemathesis"
