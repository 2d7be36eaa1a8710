import { bash } from './shell';

/**
 * The programs the user data installs on a runner instance, under /opt/runner-fleet/bin. Every path is
 * below `$RUNNER_FLEET_ROOT` (empty on an instance) so that tests can run them in a temporary folder
 * with stub commands on PATH. Commands are called by name for the same reason.
 */

/**
 * Shared functions: logging, the instance metadata service, the control plane's instance agent (every
 * Auto Scaling call about this instance), and the state directory only root can write.
 */
export const LIB_SH = bash`
#!/bin/bash
# Shared by the runner-fleet programs (all run as root). Sourced, not run.
# shellcheck disable=SC2034 # the variables are used by the programs that source this file
ROOT="@{RUNNER_FLEET_ROOT:-}"
RF_ETC="$ROOT/etc/runner-fleet"
RF_STATE="$ROOT/var/lib/runner-fleet"
RF_LOG="$ROOT/var/log/runner-fleet/bootstrap.log"
RUNNER_DIR="$ROOT/opt/actions-runner"
# The job lock and the markers the retirement logic trusts (busy, took-job, retiring): root's alone.
RF_RUN="$ROOT/run/runner-fleet"
IMDS="@{RUNNER_FLEET_IMDS:-http://169.254.169.254}"
AGENT_ATTEMPTS=3
AGENT_RETRY_SECONDS="@{RUNNER_FLEET_AGENT_RETRY_SECONDS:-1}"
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
  token="$(curl -sf -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')" || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
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
# agent REQUEST_JSON: 0 when done (its answer in AGENT_ANSWER), AGENT_NOTHING_TO_DO on 409, 1 otherwise.
# Network errors, throttling and 5xx are tried again (the agent's actions may be repeated).
agent() {
  local request="$1" role creds key secret token out status attempt=1 value
  AGENT_ANSWER=""
  if [ -z "@{RF_AGENT_URL:-}" ] || [ -z "@{REGION:-}" ]; then
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
      curl -sS --connect-timeout 5 --max-time 30 -K - --aws-sigv4 "aws:amz:$REGION:lambda" \
        -H 'content-type: application/json' --data-binary "$request" -w '\n%{http_code}' "$RF_AGENT_URL")"; then
      status="@{out##*$'\n'}"
      AGENT_ANSWER="@{out%$'\n'*}"
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
  if [ -z "@{INSTANCE_ID:-}" ] || [ -z "@{REGION:-}" ]; then
    INSTANCE_ID="$(imds_get instance-id)" || return 1
    REGION="$(imds_get placement/region)" || return 1
  fi
  export AWS_DEFAULT_REGION="$REGION"
  if [ -z "@{GROUP_NAME:-}" ]; then
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
`;

/** Runs at every boot (runner-fleet.service): prepare once, then park in the warm pool or run the runner. */
export const BOOTSTRAP_SH = bash`
#!/bin/bash
# Runs at every boot: cloud-init runs user data only once, and a warm instance boots again later.
set -euo pipefail
# shellcheck source=/dev/null
. "@{RUNNER_FLEET_ROOT:-}/opt/runner-fleet/bin/lib.sh"
POLL_SECONDS="@{RUNNER_FLEET_POLL_SECONDS:-5}"
HEARTBEAT_SECONDS="@{RUNNER_FLEET_HEARTBEAT_SECONDS:-60}"
mkdir -p "$RF_STATE" "$(dirname "$RF_LOG")"
INSTANCE_ID=""
REGION=""
GROUP_NAME=""
rm -f "$RF_STATE/identity.env"

# Functions below run in \`|| fail\` context, where bash ignores \`set -e\`: every step checks its own
# status with \`|| return 1\`.

# Before the runner starts, any failure abandons this instance's launch action so that the group
# replaces it; if there is no pending action any more, the instance marks itself unhealthy. Either way
# the desired capacity stays: this runner never took a job, so the capacity it stood for is still wanted.
fail() {
  log "bootstrap failed: $*"
  if [ -n "$INSTANCE_ID" ] && [ -n "$REGION" ] && agent_complete launch ABANDON; then
    log "abandoned the launch action"
  elif [ -n "$INSTANCE_ID" ] && [ -n "$REGION" ] && agent_unhealthy; then
    log "marked the instance unhealthy"
  else
    log "could neither abandon the launch action nor mark the instance unhealthy"
  fi
  exit 1
}

install_packages() {
  local packages=(jq tar gzip git)
  if [ "$RF_OS" = "ubuntu" ]; then
    packages+=(curl iptables)
    [ "$RF_INSTALL_DOCKER" = "true" ] && packages+=(docker.io)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || return 1
    apt-get install -y -q "@{packages[@]}" "@{RF_EXTRA_PACKAGES[@]}" || return 1
    if ! command -v aws >/dev/null 2>&1; then
      snap install aws-cli --classic || return 1
    fi
  else
    packages+=(iptables-nft)
    [ "$RF_INSTALL_DOCKER" = "true" ] && packages+=(docker)
    dnf install -y -q "@{packages[@]}" "@{RF_EXTRA_PACKAGES[@]}" || return 1
  fi
  if [ "$RF_INSTALL_DOCKER" = "true" ]; then
    systemctl enable --now docker || return 1
  fi
}

install_runner() {
  local archive="$RF_STATE/runner.tar.gz"
  id runner >/dev/null 2>&1 || useradd --create-home --shell /bin/bash runner || return 1
  if [ "$RF_INSTALL_DOCKER" = "true" ]; then
    usermod -aG docker runner || return 1
  fi
  curl -fsSL --retry 3 -o "$archive" "$RF_RUNNER_URL" || return 1
  [ -s "$archive" ] || return 1
  mkdir -p "$RUNNER_DIR" || return 1
  tar -xzf "$archive" -C "$RUNNER_DIR" || return 1
  rm -f "$archive"
  "$RUNNER_DIR/bin/installdependencies.sh" || return 1
  # Job hooks: tell root (job-event) that a job starts or has finished.
  {
    echo "ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/runner-fleet/bin/job-started"
    echo "ACTIONS_RUNNER_HOOK_JOB_COMPLETED=/opt/runner-fleet/bin/job-completed"
  } >>"$RUNNER_DIR/.env" || return 1
  chown -R runner:runner "$RUNNER_DIR" || return 1
  # The runner user's only root commands: exactly what the two hooks run. Its environment and PATH are
  # reset, whatever the image's own sudoers say, so that it cannot steer what root runs.
  mkdir -p "$ROOT/etc/sudoers.d" || return 1
  printf '%s\n' \
    'Defaults:runner env_reset, secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"' \
    'runner ALL=(root) NOPASSWD: /opt/runner-fleet/bin/job-event started, /opt/runner-fleet/bin/job-event finished' \
    >"$ROOT/etc/sudoers.d/runner-fleet" || return 1
  chmod 0440 "$ROOT/etc/sudoers.d/runner-fleet"
}

prepare() {
  if [ -f "$RF_STATE/prepared" ]; then
    return 0
  fi
  log "preparing: packages, runner $RF_RUNNER_VERSION, hooks"
  install_packages || return 1
  install_runner || return 1
  if [ -x "$ROOT/opt/runner-fleet/bin/prepare-extra" ]; then
    log "running the extra preparation commands"
    "$ROOT/opt/runner-fleet/bin/prepare-extra" || return 1
  fi
  touch "$RF_STATE/prepared" || return 1
  log "prepared"
}

# Jobs must not reach the instance role's credentials. Not persistent: applied at every boot.
block_metadata() {
  if [ "$RF_BLOCK_METADATA" = "true" ]; then
    iptables -C OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT 2>/dev/null \
      || iptables -A OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT || return 1
  fi
}

target_state() {
  imds_get autoscaling/target-lifecycle-state || echo unknown
}

wait_in_service() {
  local deadline=$((SECONDS + RF_IN_SERVICE_TIMEOUT)) state
  while true; do
    state="$(target_state)"
    if [ "$state" = "InService" ]; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "still $state after $RF_IN_SERVICE_TIMEOUT s"
      return 1
    fi
    sleep "$POLL_SECONDS"
  done
}

# Completes this instance's terminate action: its runner has stopped, no job runs. The control plane's
# deregistration function would otherwise wait for the runner to go offline. Returns the agent's status.
complete_terminate() {
  local status=0
  agent_complete terminate CONTINUE || status=$?
  case "$status" in
    0) log "completed the terminate action" ;;
    "$AGENT_NOTHING_TO_DO") log "no pending terminate action to complete" ;;
    *) log "could not complete the terminate action" ;;
  esac
  return "$status"
}

# Whether a job runs: the busy marker (job-event started), or a worker process (it exists from the
# moment the runner accepts a job, before the hook runs).
job_running() {
  marker_set busy || pgrep -u runner -f 'Runner.Worker' >/dev/null
}

# Under the job lock, so that job-event cannot mark a job started between the check and the stop: stops
# the runner's listener only when it is running and no job runs. Returns 1 otherwise (try again later).
retire_if_idle() {
  (
    flock 9 || exit 1
    if job_running || ! pgrep -u runner -f 'Runner.Listener' >/dev/null; then
      exit 1
    fi
    set_marker retiring || exit 1
    pkill -INT -u runner -f 'Runner.Listener' || true
  ) 9<"$RF_RUN/job.lock"
}

# Runs beside the runner: when the group wants this instance gone (scale-in, lifetime, back to the warm
# pool), the runner is stopped as soon as no job runs, never during one. Auto Scaling's scale-in
# protection (set by job-event started) keeps busy instances from being chosen; this covers an instance
# chosen just before its job started, whatever GitHub's REST view says.
retire_watch() {
  local state last_beat=-100000 spot_notice="" status
  while sleep "$POLL_SECONDS"; do
    state="$(target_state)"
    # A spot interruption notice: EC2 reclaims the instance in two minutes; take no new job.
    if [ -z "$spot_notice" ] && imds_get spot/instance-action >/dev/null 2>&1; then
      spot_notice="yes"
      log "spot interruption notice: the runner takes no new job"
    fi
    if [ -n "$spot_notice" ]; then
      state="spot-interruption"
    fi
    case "$state" in
      Terminated | Warmed:* | spot-interruption) ;;
      *) continue ;;
    esac
    if retire_if_idle; then
      log "target $state: the runner was idle and is stopping"
      return 0
    fi
    # A job runs: keep the terminate action open until it is over.
    if job_running && [ $((SECONDS - last_beat)) -ge "$HEARTBEAT_SECONDS" ]; then
      status=0
      agent_heartbeat terminate || status=$?
      case "$status" in
        0)
          log "target $state: a job runs, the terminate action is held"
          last_beat=$SECONDS
          ;;
        # No terminate action to hold (yet, or any more): ask again at the next heartbeat, not sooner.
        "$AGENT_NOTHING_TO_DO") last_beat=$SECONDS ;;
      esac
    fi
  done
}

start_retire_watch() {
  clear_marker busy
  clear_marker retiring
  retire_watch &
  WATCH_PID=$!
  trap 'kill "$WATCH_PID" 2>/dev/null || true' EXIT
}

# Before the runner starts: if the group wants this instance gone already, leave without starting it.
leaving_before_start() {
  case "$(target_state)" in
    Terminated | Warmed:*)
      log "the group no longer wants this instance: leaving without starting the runner"
      complete_terminate || true
      return 0
      ;;
  esac
  return 1
}

# Runs the runner until it exits. Returns 0 when it stopped because this instance retired it (the
# terminate action is then completed); otherwise 1, with the runner's exit status in RUNNER_STATUS.
run_runner() {
  set +e
  (cd "$RUNNER_DIR" && runuser -u runner -- ./run.sh "$@")
  RUNNER_STATUS=$?
  set -e
  if marker_set retiring; then
    log "the runner stopped while idle: leaving"
    complete_terminate || true
    return 0
  fi
  return 1
}

# The registration the Lambda function wrote for this instance only (never printed).
read_registration() {
  umask 077
  aws secretsmanager get-secret-value --secret-id "$RF_SECRET_PREFIX$INSTANCE_ID" \
    --query SecretString --output text >"$RF_STATE/registration.json" || return 1
  [ -s "$RF_STATE/registration.json" ]
}

field() {
  jq -r --arg f "$1" '.[$f] // empty' "$RF_STATE/registration.json"
}

# An ephemeral instance leaves through the agent. After its job (leave job) the agent terminates it with
# a decrement, so the group shrinks by one and the control plane's capacity controller decides whether
# another runner is needed (had the group launched a replacement by itself, a controller that also
# replaces the idle runner the job took would make it two); at the group's minimum size, where Auto
# Scaling refuses the decrement, the agent lets the group replace it instead. After a failure (leave
# failure) the group replaces it: the desired capacity stays. An instance already terminating (409) has
# nothing to leave: its runner has exited, so it completes its own terminate action (when that fails too,
# the bootstrap fails and systemd runs it again).
leave() {
  local after="$1" status=0
  agent_leave "$after" || status=$?
  case "$status" in
    0)
      if [ "$after" = "job" ]; then
        log "terminating after its job: the group shrinks by one (or replaces it at its minimum size)"
      else
        log "terminating, the group launches a replacement"
      fi
      return 0
      ;;
    "$AGENT_NOTHING_TO_DO")
      log "already terminating: completing the terminate action"
      complete_terminate && return 0
      ;;
  esac
  log "could not terminate this instance"
  return 1
}

# An ephemeral runner takes one job and exits; then the instance leaves. If the agent cannot terminate
# it, the bootstrap fails and systemd runs it again, which tries to leave again.
run_ephemeral() {
  local jit
  jit="$(field jitConfig)"
  [ -n "$jit" ] || fail "the registration has no jitConfig"
  rm -f "$RF_STATE/registration.json"
  log "starting the ephemeral runner $(field runnerName 2>/dev/null || true)"
  run_runner --jitconfig "$jit" && return 0
  # Whether this boot's runner took a job: job-event's marker, kept after the job (and across a restart
  # of the bootstrap; /run is emptied at every boot).
  if marker_set took-job; then
    log "the runner exited with status $RUNNER_STATUS after its job: leaving"
    leave job
  else
    # No job took this runner (a rejected JIT configuration, a crash): it is still wanted, as after a
    # failed bootstrap, so the group replaces it and the desired capacity stays.
    log "the runner exited with status $RUNNER_STATUS before taking a job: replacing this instance"
    leave failure
  fi
}

run_persistent() {
  local token url name labels group marker
  token="$(field registrationToken)"
  url="$(field registrationUrl)"
  name="$(field runnerName)"
  labels="$(field labels)"
  group="$(field runnerGroupName)"
  [ -n "$token" ] && [ -n "$url" ] && [ -n "$name" ] || fail "the registration lacks a token, URL or name"
  marker="$(printf '%s' "$token" | sha256sum | cut -c1-16)"
  if [ "$(cat "$RF_STATE/configured" 2>/dev/null || true)" != "$marker" ]; then
    rm -f "$RUNNER_DIR/.runner" "$RUNNER_DIR/.credentials" "$RUNNER_DIR/.credentials_rsaparams"
    local args=(--unattended --url "$url" --token "$token" --name "$name" --labels "$labels" --work _work --replace --disableupdate)
    [ -n "$group" ] && args+=(--runnergroup "$group")
    (cd "$RUNNER_DIR" && runuser -u runner -- ./config.sh "@{args[@]}") >/dev/null || fail "config.sh failed"
    printf '%s' "$marker" >"$RF_STATE/configured"
  fi
  rm -f "$RF_STATE/registration.json"
  log "starting the persistent runner $name"
  run_runner && return 0
  # systemd restarts the bootstrap (and with it the runner) after a failure.
  log "the runner exited with status $RUNNER_STATUS"
  return "$RUNNER_STATUS"
}

main() {
  ensure_jq || log "cannot install jq, which the agent's requests need"
  load_identity || fail "cannot read the instance identity"
  log "boot of $INSTANCE_ID in $GROUP_NAME"
  prepare_run_dir || fail "cannot make the state directory $RF_RUN"
  prepare || fail "preparation"
  block_metadata || fail "blocking the metadata service for the runner user"
  local state status=0
  state="$(target_state)"
  case "$state" in
    Warmed:*)
      log "target $state: prepared for the warm pool, not registered"
      agent_complete launch CONTINUE || status=$?
      case "$status" in
        0) log "completed the launch action" ;;
        "$AGENT_NOTHING_TO_DO") log "no pending launch action to complete" ;;
        *) log "could not complete the launch action" ;;
      esac
      return 0
      ;;
  esac
  wait_in_service || fail "not in service after $RF_IN_SERVICE_TIMEOUT s"
  read_registration || fail "cannot read the instance's registration"
  leaving_before_start && return 0
  start_retire_watch
  if [ "$RF_MODE" = "ephemeral" ]; then
    run_ephemeral
  else
    run_persistent
  fi
}

main "$@"
`;

/**
 * The job hooks' one way to change this instance's state, run as root through sudo: `job-event started`
 * or `job-event finished`, nothing else.
 */
export const JOB_EVENT_SH = bash`
#!/bin/bash
# job-event started|finished: run as root (sudo) by the runner's job hooks. Under the job lock the
# retirement check also takes: started sets the busy and took-job markers, finished clears busy. Started
# then protects the instance from scale-in; finished lifts the protection of a persistent runner (an
# ephemeral instance keeps it until it leaves).
set -euo pipefail
# shellcheck source=/dev/null
. "@{RUNNER_FLEET_ROOT:-}/opt/runner-fleet/bin/lib.sh"
if [ $# -ne 1 ] || { [ "$1" != "started" ] && [ "$1" != "finished" ]; }; then
  log "job-event: refused $(printf '%q ' "$@")(only job-event started or job-event finished)"
  echo "usage: job-event started|finished" >&2
  exit 2
fi
event="$1"
status=0
prepare_run_dir || { log "job-event $event: no state directory"; exit 1; }
(
  flock 9 || exit 1
  if [ "$event" = "started" ]; then
    set_marker took-job && set_marker busy
  else
    clear_marker busy
  fi
) 9<"$RF_RUN/job.lock" || { log "job-event $event: could not change the job markers"; status=1; }
load_identity || { log "job-event $event: cannot read the instance identity"; exit 1; }
if [ "$event" = "started" ]; then
  set_protection on || status=1
elif [ "$RF_MODE" = "persistent" ]; then
  set_protection off || status=1
fi
exit "$status"
`;

/** Runner job-started hook (as the runner user): tells root that a job starts. */
export const JOB_STARTED_SH = bash`
#!/bin/bash
# Runner job-started hook (runs as the runner user before every job). The runner user changes this
# instance's state only through job-event, as root (see /etc/sudoers.d/runner-fleet).
sudo -n /opt/runner-fleet/bin/job-event started || echo "runner-fleet: could not record that a job started" >&2
exit 0
`;

/** Runner job-completed hook (as the runner user): tells root that the job has finished. */
export const JOB_COMPLETED_SH = bash`
#!/bin/bash
# Runner job-completed hook (runs as the runner user after every job).
sudo -n /opt/runner-fleet/bin/job-event finished || echo "runner-fleet: could not record that the job finished" >&2
exit 0
`;

export const SYSTEMD_UNIT = `[Unit]
Description=GitHub Actions runner (cdk-github-runner-fleet)
Wants=network-online.target
After=network-online.target cloud-final.service

[Service]
Type=simple
ExecStart=/opt/runner-fleet/bin/bootstrap
KillSignal=SIGINT
TimeoutStopSec=60
Restart=on-failure
RestartSec=10

[Install]
WantedBy=multi-user.target
`;
