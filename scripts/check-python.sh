#!/usr/bin/env bash
# The Python side of the examples: examples/python/app.py, and every TypeScript snippet of README.md and
# docs/ translated to Python by jsii-rosetta, checked against the generated Python bindings (names,
# methods, keyword arguments). Run after `npx projen codegen` has generated dist/codegen/python.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.tmp/docs-python
rm -rf "$out" && mkdir -p "$out"
for page in README.md $(find docs -name '*.md' -not -path '*/node_modules/*' -not -path '*/.vitepress/*' -not -name api.md | sort); do
  if grep -q '^```ts' "$page"; then
    npx jsii-rosetta markdown "$page" --language python >"$out/$(echo "$page" | tr '/' '_')" 2>/dev/null
  fi
done
python3 scripts/check_python_example.py dist/codegen/python/src/cdk_github_runner_fleet/__init__.py examples/python/app.py "$out"/*.md
