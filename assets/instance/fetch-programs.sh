#!/bin/bash
# The end of every fleet's user data, without this first line: run once, as root, at the first boot,
# after the user data has set ROOT and written config.env (which pins RF_PROGRAMS_SHA256). Fetches the
# programs from the instance agent (a signed request), runs their installer only if its SHA-256 is the
# pinned one, and otherwise abandons the launch. See docs/guide/fleet.md, "The life of an instance".
set -euo pipefail
# shellcheck source=/dev/null
. "$ROOT/etc/runner-fleet/config.env"
IMDS="${RUNNER_FLEET_IMDS:-http://169.254.169.254}"
FETCH_ATTEMPTS="${RUNNER_FLEET_FETCH_ATTEMPTS:-12}"
FETCH_RETRY_SECONDS="${RUNNER_FLEET_AGENT_RETRY_SECONDS:-5}"
FETCH_LOG="$ROOT/var/log/runner-fleet/bootstrap.log"

say() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) runner-fleet user data: $*"
  printf '%s\n' "$line" >&2
  printf '%s\n' "$line" >>"$FETCH_LOG" 2>/dev/null || true
}

imds() {
  local token
  token="$(curl -q -sf --connect-timeout 2 --max-time 5 -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')" || return 1
  curl -q -sf --connect-timeout 2 --max-time 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

# json_text NAME JSON: the value of a string field made of the characters of base64 and hexadecimal
# digits only (the fields read here are: credentials, a digest, base64). No jq: the image may lack it.
json_text() {
  local pattern="\"$1\"[[:space:]]*:[[:space:]]*\"([A-Za-z0-9+/=]*)\""
  [[ $2 =~ $pattern ]] || return 1
  printf '%s' "${BASH_REMATCH[1]}"
}

# agent_post BODY: one signed request to the agent; 0 on 200. The answer's body in ANSWER, its status in STATUS.
agent_post() {
  local region role creds key secret token value out
  ANSWER=""
  STATUS=000
  region="$(imds placement/region)" && role="$(imds iam/security-credentials/)" && creds="$(imds "iam/security-credentials/$role")" || {
    say "cannot read the region or the instance role's credentials from the metadata service"
    return 1
  }
  key="$(json_text AccessKeyId "$creds")" || key=""
  secret="$(json_text SecretAccessKey "$creds")" || secret=""
  token="$(json_text Token "$creds")" || token=""
  for value in "$key" "$secret" "$token"; do
    if ! [[ $value =~ ^[A-Za-z0-9+/=]+$ ]]; then
      say "the instance role's credentials are missing or malformed"
      return 1
    fi
  done
  out="$(printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$key" "$secret" "$token" |
    curl -q -sS --connect-timeout 5 --max-time 30 -K - --aws-sigv4 "aws:amz:$region:lambda" \
      -H 'content-type: application/json' --data-binary "$1" -w '\n%{http_code}' "$RF_AGENT_URL")" || return 1
  STATUS="${out##*$'\n'}"
  ANSWER="${out%$'\n'*}"
  [ "$STATUS" = 200 ]
}

# Nothing is installed: the launch is abandoned, so that the group replaces the instance at once rather
# than at the launch hook's timeout.
give_up() {
  say "$1: abandoning the launch"
  agent_post '{"action":"complete","hook":"launch","result":"ABANDON"}' || say "the agent did not take the abandon (status $STATUS): the launch hook's timeout abandons it"
  exit 1
}

# A fleet deployed a moment ago may not be known to the agent yet (403 until it reads the fleet
# directory again), and the agent may be cold or throttled: every failure is tried again, a few times.
attempt=1
until agent_post '{"action":"programs"}'; do
  if [ "$attempt" -ge "$FETCH_ATTEMPTS" ]; then
    give_up "the instance agent did not serve the programs after $attempt attempts (last status $STATUS)"
  fi
  say "the instance agent did not serve the programs (status $STATUS), trying again"
  attempt=$((attempt + 1))
  sleep "$FETCH_RETRY_SECONDS"
done

installer="$(mktemp)" || give_up "cannot create a temporary file for the installer"
trap 'rm -f "$installer"' EXIT
encoded="$(json_text installer "$ANSWER")" || give_up "the instance agent's answer carries no installer"
printf '%s' "$encoded" | base64 -d >"$installer" || give_up "the instance agent's installer is not base64"
actual="$(sha256sum "$installer" | cut -d' ' -f1)" || give_up "cannot compute the installer's SHA-256"
if [ "$actual" != "$RF_PROGRAMS_SHA256" ]; then
  give_up "the instance agent serves programs with SHA-256 $actual, and this fleet's launch template pins $RF_PROGRAMS_SHA256: deploy the control plane and this fleet from the same version of cdk-github-runner-fleet"
fi
RUNNER_FLEET_ROOT="$ROOT" bash "$installer" || give_up "the program installer failed"
say "programs $actual installed"
