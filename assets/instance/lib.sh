#!/bin/bash
# Shared by the runner-fleet programs (all run as root). Sourced, not run.
# shellcheck disable=SC2034 # the variables are used by the programs that source this file
ROOT="${RUNNER_FLEET_ROOT:-}"
RF_ETC="$ROOT/etc/runner-fleet"
RF_STATE="$ROOT/var/lib/runner-fleet"
RF_LOG="$ROOT/var/log/runner-fleet/bootstrap.log"
RUNNER_DIR="$ROOT/opt/actions-runner"
# The job lock and the markers the retirement logic trusts (busy, took-job, retiring): root's alone.
RF_RUN="$ROOT/run/runner-fleet"
IMDS="${RUNNER_FLEET_IMDS:-http://169.254.169.254}"
AGENT_ATTEMPTS=3
AGENT_RETRY_SECONDS="${RUNNER_FLEET_AGENT_RETRY_SECONDS:-1}"
# agent's status when there was nothing to do (409): no such lifecycle action, or already terminating.
AGENT_NOTHING_TO_DO=3
# shellcheck source=/dev/null
. "$RF_ETC/config.env"

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) runner-fleet: $*"
  printf '%s\n' "$line"
  printf '%s\n' "$line" >>"$RF_LOG" 2>/dev/null || true
}

imds_get() {
  local token
  token="$(curl -q -sf --connect-timeout 2 --max-time 5 -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')" || return 1
  curl -q -sf --connect-timeout 2 --max-time 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

# jq builds the agent's requests and reads its answers; an image may lack it.
ensure_jq() {
  command -v jq >/dev/null 2>&1 && return 0
  if [ "$RF_OS" = "ubuntu" ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq
  else
    dnf install -y -q jq
  fi
}

# The control plane's instance agent, a Lambda function URL with IAM authentication, makes every Auto
# Scaling call about this instance, and about this instance only: it takes the instance id from the
# caller's verified role session (the instance role has no Auto Scaling write permission). The request
# is signed (SigV4, service lambda) with the instance role's credentials, which only root can read from
# the metadata service; they reach curl on its standard input, never on a command line or in the log.
# curl's -q (first) leaves out any ~/.curlrc of the image, which could make curl print the request.
# agent REQUEST_JSON: 0 when done (its answer in AGENT_ANSWER), AGENT_NOTHING_TO_DO on 409, 1 otherwise.
# Network errors, throttling and 5xx are tried again (the agent's actions may be repeated).
agent() {
  local request="$1" role creds key secret token out status attempt=1 value
  AGENT_ANSWER=""
  if [ -z "${RF_AGENT_URL:-}" ] || [ -z "${REGION:-}" ]; then
    log "agent $request: no agent URL or no region"
    return 1
  fi
  role="$(imds_get iam/security-credentials/)" && creds="$(imds_get "iam/security-credentials/$role")" || {
    log "agent $request: cannot read the instance role's credentials"
    return 1
  }
  key="$(printf '%s' "$creds" | jq -r '.AccessKeyId // empty')" || key=""
  secret="$(printf '%s' "$creds" | jq -r '.SecretAccessKey // empty')" || secret=""
  token="$(printf '%s' "$creds" | jq -r '.Token // empty')" || token=""
  # Checked so that nothing but the values can reach curl's configuration (no quote, no newline).
  for value in "$key" "$secret" "$token"; do
    if ! [[ "$value" =~ ^[A-Za-z0-9+/=]+$ ]]; then
      log "agent $request: the instance role's credentials are missing or malformed"
      return 1
    fi
  done
  while true; do
    status=000
    if out="$(printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$key" "$secret" "$token" |
      curl -q -sS --connect-timeout 5 --max-time 30 -K - --aws-sigv4 "aws:amz:$REGION:lambda" \
        -H 'content-type: application/json' --data-binary "$request" -w '\n%{http_code}' "$RF_AGENT_URL")"; then
      status="${out##*$'\n'}"
      AGENT_ANSWER="${out%$'\n'*}"
    fi
    case "$status" in
      200) return 0 ;;
      409)
        log "agent $request: nothing to do (409 $(agent_message))"
        return "$AGENT_NOTHING_TO_DO"
        ;;
      000 | 429 | 5??)
        if [ "$attempt" -lt "$AGENT_ATTEMPTS" ]; then
          log "agent $request: answered $status $(agent_message), trying again"
          attempt=$((attempt + 1))
          sleep "$AGENT_RETRY_SECONDS"
          continue
        fi
        ;;
    esac
    log "agent $request: answered $status $(agent_message)"
    return 1
  done
}

# The message of the agent's answer, on one line (never the request's credentials: they are not in it).
agent_message() {
  printf '%s' "$AGENT_ANSWER" | jq -r '.message // empty' 2>/dev/null | tr -d '\r\n' | cut -c1-300 || true
}

# The agent's requests, built by jq.
agent_whoami() { agent "$(jq -nc '{action: "whoami"}')"; }
agent_protect() { agent "$(jq -nc --argjson protected "$1" '{action: "protect", protected: $protected}')"; }
agent_heartbeat() { agent "$(jq -nc --arg hook "$1" '{action: "heartbeat", hook: $hook}')"; }
agent_complete() { agent "$(jq -nc --arg hook "$1" --arg result "$2" '{action: "complete", hook: $hook, result: $result}')"; }
agent_leave() { agent "$(jq -nc --arg after "$1" '{action: "leave", after: $after}')"; }
agent_unhealthy() { agent "$(jq -nc '{action: "unhealthy"}')"; }

# Instance id, region and group name, read once per boot and cached for job-event.
load_identity() {
  if [ -f "$RF_STATE/identity.env" ]; then
    # shellcheck source=/dev/null
    . "$RF_STATE/identity.env"
  fi
  if [ -z "${INSTANCE_ID:-}" ] || [ -z "${REGION:-}" ]; then
    INSTANCE_ID="$(imds_get instance-id)" || return 1
    REGION="$(imds_get placement/region)" || return 1
  fi
  export AWS_DEFAULT_REGION="$REGION"
  if [ -z "${GROUP_NAME:-}" ]; then
    agent_whoami || return 1
    GROUP_NAME="$(printf '%s' "$AGENT_ANSWER" | jq -r '.autoScalingGroupName // empty')" || return 1
    [ -n "$GROUP_NAME" ] || return 1
  fi
  printf 'INSTANCE_ID=%q\nREGION=%q\nGROUP_NAME=%q\n' "$INSTANCE_ID" "$REGION" "$GROUP_NAME" >"$RF_STATE/identity.env"
}

# Scale-in protection: on while a job runs; off after a persistent runner's job.
set_protection() {
  local protected=false
  [ "$1" = "on" ] && protected=true
  if agent_protect "$protected"; then
    log "scale-in protection $1"
    return 0
  fi
  # Refused when the instance is already terminating: the terminate hook then waits for the job.
  log "could not set scale-in protection $1"
  return 1
}

# The state directory: made by root at every boot and owned by root, so that a job (the runner user)
# can neither forge nor remove a marker, hold the job lock, nor plant a link for root to follow.
# Anything else found at its path (a link, a file, a directory someone else owns or may write) is
# removed first.
prepare_run_dir() {
  if [ -L "$RF_RUN" ] || { [ -e "$RF_RUN" ] && ! root_only_dir "$RF_RUN"; }; then
    log "$RF_RUN is not a directory only root may write: making it again"
    rm -rf -- "$RF_RUN" || return 1
  fi
  install -d -o root -g root -m 0755 "$RF_RUN" || return 1
  if ! marker_set job.lock; then
    rm -f -- "$RF_RUN/job.lock"
    set_marker job.lock || return 1
  fi
}

root_only_dir() {
  [ -d "$1" ] && [ "$(stat -c %u "$1")" = "$EUID" ] && case "$(stat -c %a "$1")" in 755 | 700) true ;; *) false ;; esac
}

# A marker is a regular file in the state directory, created by root with mktemp and renamed into place:
# a rename replaces a link planted at the marker's path, it does not follow it.
set_marker() {
  local tmp
  tmp="$(mktemp "$RF_RUN/.new.XXXXXX")" || return 1
  mv -fT -- "$tmp" "$RF_RUN/$1" || {
    rm -f -- "$tmp"
    return 1
  }
}

marker_set() {
  [ -f "$RF_RUN/$1" ] && [ ! -L "$RF_RUN/$1" ]
}

clear_marker() {
  rm -f -- "$RF_RUN/$1"
}
