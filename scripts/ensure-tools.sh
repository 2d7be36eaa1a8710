#!/usr/bin/env bash
# Installs the Debian packages the verification needs, when they are missing: shellcheck (user data
# checks), jq (the bootstrap script under test), sudo (visudo checks the rendered sudoers rule), curl (the
# agent client's SigV4 signing is checked with the real curl), golang-go (gofmt for the Go bindings) and python3 (the
# Python bindings and example), chromium (the documentation site's browser check). Runs as root on the project's machines.
# Checks that cfn-lint is there (it cannot be installed from here).
set -euo pipefail
# cfn-lint (the templates' check in scripts/consumer-path.sh) comes from pip, which cannot reach PyPI from
# these machines: it must be installed beforehand.
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "ensure-tools: cfn-lint is missing: install it with 'pip install cfn-lint' (1.x; it needs PyPI, and Debian has no package for it)" >&2
  exit 1
fi
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v visudo >/dev/null 2>&1 || missing+=(sudo)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v gofmt >/dev/null 2>&1 || [ -x /usr/lib/go/bin/gofmt ] || missing+=(golang-go)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: please install: ${missing[*]}" >&2
  exit 1
fi
echo "ensure-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
