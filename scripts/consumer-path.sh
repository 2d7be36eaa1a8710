#!/usr/bin/env bash
# The newcomer's path, as a test: pack the compiled library, create fresh CDK apps in a temporary
# directory the way docs/getting-started.md says, and synthesize that page's TypeScript app verbatim (and
# README.md's quick start, in the second app), after type-checking the library's sources against each app's
# aws-cdk-lib:
#
#   - "newest": the newest aws-cdk-lib the registry serves, with cdk-nag applied as the page shows;
#   - "oldest": the lower bound of the library's peer range for aws-cdk-lib, without cdk-nag (cdk-nag 3
#     needs aws-cdk-lib >= 2.257.0).
#
# The pages' blocks are found by the HTML comments before them (`<!-- consumer-path: NAME -->`, invisible
# on the site and on npm): `install` (the npm commands), `cdk.json`, `tsconfig.json`, `app.ts`, and
# `app.ts, appended for cdk-nag` (README.md: `install`, which must be the getting-started page's, and
# `app.ts`). Then every template is checked with cfn-lint (scripts/cfn-lint.sh): the
# consumer apps', the example stack's (cdk.out/, from `npm run example`) and the integration snapshots'
# (test/*.snapshot/).
#
# Needs the compiled library (`npx projen compile` after the bundles: lib/, .jsii, assets/). Runs on
# Node.js 22 (the devDependency `node`). Exits non-zero, saying what failed, on any failure.
#
# Options (to look for the oldest aws-cdk-lib that works): CONSUMER_PATH_CDK_VERSIONS="2.276.0 2.200.0"
# tries those aws-cdk-lib versions instead (cdk-nag with the first only), CONSUMER_PATH_NO_NAG=1 leaves
# cdk-nag out everywhere, CONSUMER_PATH_NPM_FLAGS=--legacy-peer-deps installs versions outside the peer
# range, CONSUMER_PATH_KEEP=1 keeps the temporary directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
START=$SECONDS
say() { echo "consumer-path: $*"; }
fail() { echo "consumer-path: FAILED: $*" >&2; exit 1; }

# --- Preconditions -------------------------------------------------------------------------------------
{ [ -f lib/index.js ] && [ -f .jsii ]; } || fail "lib/index.js or .jsii is missing: run 'npx projen compile' first"
for f in assets/lambda/{registration,deregistration,idle-metric,webhook,instance-agent}.lambda/index.js assets/cli/main/index.js; do
  [ -f "$f" ] || fail "$f is missing: run 'npx projen bundle' (or 'npx projen compile') first"
done
NODE22="$ROOT/node_modules/node/bin/node"
[ -x "$NODE22" ] || NODE22=$(command -v node)
NODE_MAJOR=$("$NODE22" -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" = 22 ] || fail "Node.js 22 is needed (found $("$NODE22" --version) at $NODE22): run 'npm install' first"
command -v cfn-lint >/dev/null 2>&1 || fail "cfn-lint is not installed (see scripts/ensure-tools.sh)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/consumer-path.XXXXXX")
if [ "${CONSUMER_PATH_KEEP:-}" = 1 ]; then
  say "keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

# A clean PATH for the apps: Node.js 22 first, and none of this repository's node_modules/.bin.
mkdir -p "$WORK/bin"
ln -s "$NODE22" "$WORK/bin/node"
CLEAN_PATH="$WORK/bin:$(echo "$PATH" | tr ':' '\n' | grep -v 'node_modules/\.bin' | paste -sd: -)"
# npm and npx of the system, run by Node.js 22.
NPM_CLI=$(command -v npm)

# --- 1. Pack the library, and check what the tarball ships ---------------------------------------------
say "npm pack"
TARBALL_NAME=$(npm pack --silent --pack-destination "$WORK" | tail -n 1)
TARBALL="$WORK/$TARBALL_NAME"
[ -f "$TARBALL" ] || fail "npm pack wrote no tarball"
tar -tzf "$TARBALL" | sed 's#^package/##' | sort >"$WORK/tarball-files.txt"
unexpected=$(grep -vE '^(lib/.*|assets/.*|bin/.*|\.jsii|README\.md|LICENSE|API\.md|package\.json)$' "$WORK/tarball-files.txt" || true)
[ -z "$unexpected" ] || fail "the tarball ships files consumers do not use:
$unexpected"
# The instance agent serves the programs of its own release: their copy beside its bundle ships too.
for f in lib/index.js lib/index.d.ts .jsii bin/cdk-github-runner-fleet assets/cli/main/index.js assets/instance/bootstrap.sh \
  assets/instance/fetch-programs.sh assets/lambda/instance-agent.lambda/programs/{lib,bootstrap}.sh \
  assets/lambda/{registration,deregistration,idle-metric,webhook,instance-agent}.lambda/index.js; do
  grep -qxF "$f" "$WORK/tarball-files.txt" || fail "the tarball lacks $f"
done
say "tarball $TARBALL_NAME: $(wc -l <"$WORK/tarball-files.txt") files, only lib/ assets/ bin/ .jsii README.md LICENSE API.md package.json"

# --- 2. The pages' blocks -----------------------------------------------------------------------------
# Writes DIR/<name> for every block marked `<!-- consumer-path: NAME -->` (the next fenced block) of PAGE.
extract() {
  "$NODE22" - "$@" <<'EOF'
const fs = require('fs');
const [page, out, ...required] = process.argv.slice(2);
const lines = fs.readFileSync(page, 'utf8').split('\n');
fs.mkdirSync(out, { recursive: true });
const found = [];
for (let i = 0; i < lines.length; i++) {
  const marker = /^<!--\s*consumer-path:\s*(.+?)\s*-->$/.exec(lines[i]);
  if (!marker) continue;
  let j = i + 1;
  while (j < lines.length && lines[j].trim() === '') j++;
  if (!/^```/.test(lines[j] ?? '')) throw new Error(`${page}:${i + 1}: no fenced block after the marker "${marker[1]}"`);
  let k = j + 1;
  while (k < lines.length && !/^```\s*$/.test(lines[k])) k++;
  fs.writeFileSync(`${out}/${marker[1]}`, lines.slice(j + 1, k).join('\n') + '\n');
  found.push(marker[1]);
}
for (const name of required) {
  if (!found.includes(name)) throw new Error(`${page}: no block marked <!-- consumer-path: ${name} -->`);
}
EOF
}
PAGE="$WORK/page/getting-started"
README_PAGE="$WORK/page/readme"
extract docs/getting-started.md "$PAGE" install cdk.json tsconfig.json app.ts 'app.ts, appended for cdk-nag' \
  || fail "docs/getting-started.md: the blocks this test uses"
extract README.md "$README_PAGE" install app.ts || fail "README.md: the blocks this test uses"
cmp -s "$PAGE/install" "$README_PAGE/install" || fail "README.md's install commands differ from docs/getting-started.md's:
$(diff "$PAGE/install" "$README_PAGE/install" || true)"

PEER_RANGE=$("$NODE22" -p 'require("./package.json").peerDependencies["aws-cdk-lib"]')
OLDEST=$("$NODE22" -p 'require("semver").minVersion(process.argv[1]).version' "$PEER_RANGE")
NEWEST=$(npm view aws-cdk-lib version)
VERSIONS=${CONSUMER_PATH_CDK_VERSIONS:-"$NEWEST $OLDEST"}
NAG_VERSION=$(echo "$VERSIONS" | awk '{print $1}')
if [ "${CONSUMER_PATH_NO_NAG:-}" = 1 ]; then NAG_VERSION=none; fi
# README.md's quick start is synthesized in the last app (without cdk-nag, unless there is only one).
NAG_FREE_VERSION=$(echo "$VERSIONS" | awk '{print $NF}')
say "aws-cdk-lib versions: $VERSIONS (peer range $PEER_RANGE; cdk-nag with $NAG_VERSION only)"

# --- 3. One fresh app per aws-cdk-lib version ----------------------------------------------------------
# Runs the page's install commands, with aws-cdk-lib@VERSION and the tarball for the library.
install_app() {
  local dir=$1 version=$2 nag=$3 line
  mkdir -p "$dir"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    local -a args
    read -r -a args <<<"$line"
    [ "${args[0]}" = npm ] || fail "unexpected command in the install block: $line"
    local -a out=()
    for a in "${args[@]:1}"; do
      case "$a" in
        aws-cdk-lib) out+=("aws-cdk-lib@$version") ;;
        cdk-github-runner-fleet) out+=("$TARBALL") ;;
        cdk-nag@*) if [ "$nag" = yes ]; then out+=("$a"); fi ;;
        *) out+=("$a") ;;
      esac
    done
    # shellcheck disable=SC2206 # CONSUMER_PATH_NPM_FLAGS is a list of flags
    if [ "${out[0]}" = install ]; then out+=(--no-audit --no-fund --prefer-offline ${CONSUMER_PATH_NPM_FLAGS:-}); fi
    echo "  \$ npm ${out[*]}" | sed "s#$WORK/##g"
    (cd "$dir" && PATH="$CLEAN_PATH" "$NODE22" "$NPM_CLI" "${out[@]}" >>"$dir/install.log" 2>&1) \
      || { tail -n 30 "$dir/install.log" >&2; fail "[$version] npm ${out[*]}"; }
  done <"$PAGE/install"
}

# typecheck_sources DIR VERSION: the library's own sources (src/) type-checked against the app's aws-cdk-lib
# and constructs, with this repository's TypeScript and compiler options. A synthesis only runs the code
# paths an app takes; this finds every API the library uses that the version lacks or types otherwise
# (such a prop would be ignored silently at run time).
typecheck_sources() {
  local dir=$1 version=$2
  cat >"$dir/tsconfig.library.json" <<EOF
{
  "extends": "$ROOT/tsconfig.json",
  "compilerOptions": {
    "noEmit": true,
    "typeRoots": ["$ROOT/node_modules/@types"],
    "types": ["node"],
    "paths": {
      "aws-cdk-lib": ["$dir/node_modules/aws-cdk-lib"],
      "aws-cdk-lib/*": ["$dir/node_modules/aws-cdk-lib/*"],
      "constructs": ["$dir/node_modules/constructs"]
    }
  },
  "include": ["$ROOT/src/**/*.ts"]
}
EOF
  echo "  \$ tsc -p tsconfig.library.json (the library's src/ against aws-cdk-lib $version)"
  "$NODE22" "$ROOT/node_modules/typescript/bin/tsc" -p "$dir/tsconfig.library.json" >"$dir/typecheck.log" 2>&1 \
    || { head -n 40 "$dir/typecheck.log" >&2; fail "[$version] the library's sources do not type-check against aws-cdk-lib $version"; }
}

# synth_app DIR VERSION NAG PAGE_DIR APP_FILE [CDK ARGS...]: the page's app.ts as APP_FILE, `npx cdk synth`.
synth_app() {
  local dir=$1 version=$2 nag=$3 page=$4 file=$5
  shift 5
  cp "$PAGE/cdk.json" "$dir/cdk.json"
  cp "$PAGE/tsconfig.json" "$dir/tsconfig.json"
  cp "$page/app.ts" "$dir/$file"
  if [ "$nag" = yes ]; then
    # The page says: add these lines at the end of app.ts, without the `declare` line.
    grep -v '^declare ' "$page/app.ts, appended for cdk-nag" >>"$dir/$file"
  fi
  # No network for the synthesis (where the machine allows it): the CLI's notices and telemetry stay off
  # the wire, and no credential provider is tried (IMDS disabled, empty AWS config).
  local -a isolate=()
  if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then isolate=(unshare -n); fi
  echo "  \$ npx cdk synth${*:+ $*}"
  (cd "$dir" && env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    PATH="$CLEAN_PATH" AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE="$dir/.aws-config" \
    AWS_SHARED_CREDENTIALS_FILE="$dir/.aws-credentials" AWS_REGION=us-east-1 CDK_DISABLE_CLI_TELEMETRY=true \
    "${isolate[@]}" "$NODE22" "$(dirname "$NPM_CLI")/npx" cdk synth --no-notices "$@" >"$dir/synth-$file.log" 2>&1) \
    || { tail -n 40 "$dir/synth-$file.log" >&2; fail "[$version] npx cdk synth of $file${nag:+ (cdk-nag: $nag)}"; }
}

# check_template VERSION TEMPLATE NAME: the stack has its fleet; keeps the template for cfn-lint.
check_template() {
  local version=$1 template=$2 name=$3
  [ -f "$template" ] || fail "[$version] cdk synth wrote no $template"
  grep -q '"AWS::AutoScaling::AutoScalingGroup"' "$template" || fail "[$version] $name: the template has no Auto Scaling group"
  mkdir -p "$WORK/templates/$version"
  cp "$template" "$WORK/templates/$version/$name.template.json"
}

# run_app VERSION: one app, from `npm init` to its templates in $WORK/templates/VERSION/ (run in the
# background, one per version: the npm installs overlap; they share the npm cache).
run_app() {
  local version=$1 nag=no t0=$SECONDS
  [ "$version" = "$NAG_VERSION" ] && nag=yes
  local dir="$WORK/app-$version"
  say "app with aws-cdk-lib@$version (cdk-nag: $nag)"
  install_app "$dir" "$version" "$nag"
  local installed
  installed=$("$NODE22" -p 'require(process.argv[1] + "/node_modules/aws-cdk-lib/package.json").version' "$dir")
  [ "$installed" = "$version" ] || fail "[$version] npm installed aws-cdk-lib $installed"
  say "[$version] installed in $((SECONDS - t0)) s ($(cd "$dir" && "$NODE22" -p '["typescript", "ts-node", "aws-cdk", "cdk-nag"].map((p) => { try { return p + " " + require(p + "/package.json").version; } catch { return ""; } }).filter(Boolean).join(", ")'))"
  typecheck_sources "$dir" "$version"
  # docs/getting-started.md's app.ts, the way the page runs it (its cdk.json).
  synth_app "$dir" "$version" "$nag" "$PAGE" app.ts
  check_template "$version" "$dir/cdk.out/Runners.template.json" getting-started-Runners
  # README.md's quick start, in the app without cdk-nag: the two apps run side by side, with about the
  # same work each.
  if [ "$version" = "$NAG_FREE_VERSION" ]; then
    synth_app "$dir" "$version" no "$README_PAGE" readme.ts --app 'npx ts-node --prefer-ts-exts readme.ts' --output cdk.out.readme
    check_template "$version" "$dir/cdk.out.readme/Runners.template.json" readme-Runners
  fi
  say "[$version] done in $((SECONDS - t0)) s"
}

declare -A PIDS=()
for version in $VERSIONS; do
  run_app "$version" >"$WORK/run-$version.log" 2>&1 &
  PIDS[$version]=$!
done
FAILED=()
for version in $VERSIONS; do
  if ! wait "${PIDS[$version]}"; then FAILED+=("$version"); fi
  sed "s#$WORK/##g" "$WORK/run-$version.log"
done
[ ${#FAILED[@]} -eq 0 ] || fail "the consumer app with aws-cdk-lib ${FAILED[*]} (see above)"
TEMPLATES=("$WORK"/templates/*/*.template.json)

# --- 4. cfn-lint on every template ---------------------------------------------------------------------
say "cfn-lint: the consumer apps' templates"
bash scripts/cfn-lint.sh "${TEMPLATES[@]}" | sed "s#$WORK/##g" || fail "cfn-lint on the consumer apps' templates"
if ! ls cdk.out/*.template.json >/dev/null 2>&1; then
  say "no cdk.out/: npm run example"
  npx projen example >/dev/null || fail "npm run example"
fi
say "cfn-lint: the example stack (cdk.out/)"
bash scripts/cfn-lint.sh cdk.out/*.template.json || fail "cfn-lint on the example stack's template (cdk.out/)"
say "cfn-lint: the integration snapshots (test/*.snapshot/)"
bash scripts/cfn-lint.sh --integ test/*.snapshot/*.template.json || fail "cfn-lint on the integration snapshots (test/*.snapshot/)"

say "OK in $((SECONDS - START)) s"
