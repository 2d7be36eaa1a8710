import { bash } from './shell';

/**
 * The programs the user data installs on a runner instance, under /opt/runner-fleet/bin. Every path is
 * below `$RUNNER_FLEET_ROOT` (empty on an instance) so that tests can run them in a temporary folder
 * with stub commands on PATH. Commands are called by name for the same reason.
 */

/** Shared functions: logging, the instance metadata service, the instance's own group. */
export const LIB_SH = bash`
#!/bin/bash
# Shared by the runner-fleet programs. Sourced, not run.
# shellcheck disable=SC2034 # the variables are used by the programs that source this file
ROOT="@{RUNNER_FLEET_ROOT:-}"
RF_ETC="$ROOT/etc/runner-fleet"
RF_STATE="$ROOT/var/lib/runner-fleet"
RF_LOG="$ROOT/var/log/runner-fleet/bootstrap.log"
RUNNER_DIR="$ROOT/opt/actions-runner"
# Markers shared by the job hooks (runner user) and the retirement check (root), under one lock.
RF_RUN="$ROOT/run/runner-fleet"
IMDS="@{RUNNER_FLEET_IMDS:-http://169.254.169.254}"
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

# Instance id, region and group name, read once per boot and cached for the job hooks.
load_identity() {
  if [ -f "$RF_STATE/identity.env" ]; then
    # shellcheck source=/dev/null
    . "$RF_STATE/identity.env"
  fi
  if [ -z "@{INSTANCE_ID:-}" ]; then
    INSTANCE_ID="$(imds_get instance-id)" || return 1
    REGION="$(imds_get placement/region)" || return 1
  fi
  export AWS_DEFAULT_REGION="$REGION"
  if [ -z "@{GROUP_NAME:-}" ] || [ "$GROUP_NAME" = "None" ]; then
    GROUP_NAME="$(aws autoscaling describe-auto-scaling-instances --instance-ids "$INSTANCE_ID" \
      --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text)" || return 1
  fi
  printf 'INSTANCE_ID=%s\nREGION=%s\nGROUP_NAME=%s\n' "$INSTANCE_ID" "$REGION" "$GROUP_NAME" >"$RF_STATE/identity.env"
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
GROUP_NAME=""
rm -f "$RF_STATE/identity.env"

# Functions below run in \`|| fail\` context, where bash ignores \`set -e\`: every step checks its own
# status with \`|| return 1\`.

# Before the runner starts, any failure abandons this instance's launch action so that the group
# replaces it; if there is no pending action any more, the instance marks itself unhealthy. Either way
# the desired capacity stays: this runner never took a job, so the capacity it stood for is still wanted.
fail() {
  log "bootstrap failed: $*"
  if [ -n "$GROUP_NAME" ] && aws autoscaling complete-lifecycle-action --auto-scaling-group-name "$GROUP_NAME" \
    --lifecycle-hook-name "$RF_LAUNCH_HOOK" --instance-id "$INSTANCE_ID" --lifecycle-action-result ABANDON; then
    log "abandoned the launch action"
  elif [ -n "$INSTANCE_ID" ] && aws autoscaling set-instance-health --instance-id "$INSTANCE_ID" --health-status Unhealthy; then
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
  # Job hooks: protect the instance from scale-in while a job runs.
  {
    echo "ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/runner-fleet/bin/job-started"
    echo "ACTIONS_RUNNER_HOOK_JOB_COMPLETED=/opt/runner-fleet/bin/job-completed"
  } >>"$RUNNER_DIR/.env" || return 1
  chown -R runner:runner "$RUNNER_DIR" || return 1
  mkdir -p "$ROOT/etc/sudoers.d" || return 1
  printf '%s\n' 'runner ALL=(root) NOPASSWD: /opt/runner-fleet/bin/protect on, /opt/runner-fleet/bin/protect off' \
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
# deregistration function would otherwise wait for the runner to go offline.
complete_terminate() {
  if aws autoscaling complete-lifecycle-action --auto-scaling-group-name "$GROUP_NAME" \
    --lifecycle-hook-name "$RF_TERMINATE_HOOK" --instance-id "$INSTANCE_ID" --lifecycle-action-result CONTINUE; then
    log "completed the terminate action"
  else
    log "no pending terminate action to complete"
  fi
}

# Whether a job runs: the job-started hook's marker, or a worker process (it exists from the moment the
# runner accepts a job, before the hook runs).
job_running() {
  [ -e "$RF_RUN/busy" ] || pgrep -u runner -f 'Runner.Worker' >/dev/null
}

# Under the job lock, so that a job-started hook cannot run between the check and the stop: stops the
# runner's listener only when it is running and no job runs. Returns 1 otherwise (try again later).
retire_if_idle() {
  (
    flock 9 || exit 1
    if job_running || ! pgrep -u runner -f 'Runner.Listener' >/dev/null; then
      exit 1
    fi
    touch "$RF_RUN/retiring"
    pkill -INT -u runner -f 'Runner.Listener' || true
  ) 9>"$RF_RUN/job.lock"
}

# Runs beside the runner: when the group wants this instance gone (scale-in, lifetime, back to the warm
# pool), the runner is stopped as soon as no job runs, never during one. Auto Scaling's scale-in
# protection (set by the job-started hook) keeps busy instances from being chosen; this covers an
# instance chosen just before its job started, whatever GitHub's REST view says.
retire_watch() {
  local state last_beat=-100000 spot_notice=""
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
      if aws autoscaling record-lifecycle-action-heartbeat --auto-scaling-group-name "$GROUP_NAME" \
        --lifecycle-hook-name "$RF_TERMINATE_HOOK" --instance-id "$INSTANCE_ID"; then
        log "target $state: a job runs, the terminate action is held"
        last_beat=$SECONDS
      fi
    fi
  done
}

start_retire_watch() {
  mkdir -p "$RF_RUN"
  : >"$RF_RUN/job.lock"
  chown runner "$RF_RUN" "$RF_RUN/job.lock"
  rm -f "$RF_RUN/busy" "$RF_RUN/retiring"
  retire_watch &
  WATCH_PID=$!
  trap 'kill "$WATCH_PID" 2>/dev/null || true' EXIT
}

retiring() {
  [ -e "$RF_RUN/retiring" ]
}

# Before the runner starts: if the group wants this instance gone already, leave without starting it.
leaving_before_start() {
  case "$(target_state)" in
    Terminated | Warmed:*)
      log "the group no longer wants this instance: leaving without starting the runner"
      complete_terminate
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
  if retiring; then
    log "the runner stopped while idle: leaving"
    complete_terminate
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

# Whether this boot's runner took a job: the job-started hook's marker, kept after the job (and across a
# restart of the bootstrap; /run is emptied at every boot).
took_job() {
  [ -e "$RF_RUN/took-job" ]
}

# Terminates this instance and lets the group launch a replacement: the desired capacity stays.
leave_replaced() {
  if aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$INSTANCE_ID" --no-should-decrement-desired-capacity; then
    log "terminating, the group launches a replacement"
    return 0
  fi
  log "could not terminate this instance"
  return 1
}

# Terminates this instance after its job, and the group shrinks by one: the control plane's capacity
# controller decides whether another runner is needed. Had the group launched a replacement by itself,
# a controller that also replaces the idle runner the job took would make it two. Auto Scaling refuses
# the decrement (ValidationError) when it would take the desired capacity below the group's minimum
# size; a replacement is needed then anyway, so any failure falls back to leaving replaced.
leave_after_job() {
  if aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$INSTANCE_ID" --should-decrement-desired-capacity; then
    log "terminating, the group shrinks by one"
    return 0
  fi
  log "the group did not shrink (at its minimum size?): terminating with a replacement instead"
  leave_replaced
}

# An ephemeral runner takes one job and exits; then the instance leaves. If both terminate calls fail,
# the bootstrap fails and systemd runs it again, which tries to leave again.
run_ephemeral() {
  local jit
  jit="$(field jitConfig)"
  [ -n "$jit" ] || fail "the registration has no jitConfig"
  rm -f "$RF_STATE/registration.json"
  log "starting the ephemeral runner $(field runnerName 2>/dev/null || true)"
  run_runner --jitconfig "$jit" && return 0
  if took_job; then
    log "the runner exited with status $RUNNER_STATUS after its job: leaving"
    leave_after_job
  else
    # No job took this runner (a rejected JIT configuration, a crash): it is still wanted, as after a
    # failed bootstrap, so the group replaces it and the desired capacity stays.
    log "the runner exited with status $RUNNER_STATUS before taking a job: replacing this instance"
    leave_replaced
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
  load_identity || fail "cannot read the instance identity"
  log "boot of $INSTANCE_ID in $GROUP_NAME"
  prepare || fail "preparation"
  block_metadata || fail "blocking the metadata service for the runner user"
  local state
  state="$(target_state)"
  case "$state" in
    Warmed:*)
      log "target $state: prepared for the warm pool, not registered"
      aws autoscaling complete-lifecycle-action --auto-scaling-group-name "$GROUP_NAME" \
        --lifecycle-hook-name "$RF_LAUNCH_HOOK" --instance-id "$INSTANCE_ID" --lifecycle-action-result CONTINUE \
        || log "no pending launch action to complete"
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

/** Protects (or unprotects) this instance from scale-in. Run as root through sudo by the job hooks. */
export const PROTECT_SH = bash`
#!/bin/bash
set -euo pipefail
# shellcheck source=/dev/null
. "@{RUNNER_FLEET_ROOT:-}/opt/runner-fleet/bin/lib.sh"
case "@{1:-}" in
  on) flag=--protected-from-scale-in ;;
  off) flag=--no-protected-from-scale-in ;;
  *) echo "usage: protect on|off" >&2; exit 2 ;;
esac
load_identity
if aws autoscaling set-instance-protection --instance-ids "$INSTANCE_ID" --auto-scaling-group-name "$GROUP_NAME" "$flag"; then
  log "scale-in protection $1"
else
  # Fails when the instance is already terminating: the terminate hook then waits for the job.
  log "could not set scale-in protection $1"
fi
`;

export const JOB_STARTED_SH = bash`
#!/bin/bash
# Runner job-started hook (runs as the runner user before every job). The busy marker, under the job
# lock, keeps the retirement check from stopping the runner; the protection keeps scale-in away. The
# took-job marker stays after the job: an ephemeral instance then leaves without asking for a replacement.
RF_RUN="@{RUNNER_FLEET_ROOT:-}/run/runner-fleet"
touch "$RF_RUN/took-job" || echo "runner-fleet: could not record that this runner took a job" >&2
( flock 9 && touch "$RF_RUN/busy" ) 9>"$RF_RUN/job.lock" || echo "runner-fleet: could not mark this instance busy" >&2
sudo -n /opt/runner-fleet/bin/protect on || echo "runner-fleet: could not protect this instance from scale-in" >&2
exit 0
`;

/** Persistent runners lift the protection after a job; an ephemeral instance leaves after it anyway. */
export function jobCompletedScript(mode: 'ephemeral' | 'persistent'): string {
  return mode === 'persistent'
    ? bash`
#!/bin/bash
# Runner job-completed hook (runs as the runner user after every job).
RF_RUN="@{RUNNER_FLEET_ROOT:-}/run/runner-fleet"
( flock 9 && rm -f "$RF_RUN/busy" ) 9>"$RF_RUN/job.lock" || echo "runner-fleet: could not clear the busy marker" >&2
sudo -n /opt/runner-fleet/bin/protect off || echo "runner-fleet: could not lift scale-in protection" >&2
exit 0
`
    : bash`
#!/bin/bash
# Runner job-completed hook: the job is over (the instance keeps its protection until it leaves).
RF_RUN="@{RUNNER_FLEET_ROOT:-}/run/runner-fleet"
( flock 9 && rm -f "$RF_RUN/busy" ) 9>"$RF_RUN/job.lock" || echo "runner-fleet: could not clear the busy marker" >&2
exit 0
`;
}

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
