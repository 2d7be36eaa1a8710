#!/bin/bash
# Runs at every boot: cloud-init runs user data only once, and a warm instance boots again later.
set -euo pipefail
# shellcheck source=/dev/null
. "${RUNNER_FLEET_ROOT:-}/opt/runner-fleet/bin/lib.sh"
POLL_SECONDS="${RUNNER_FLEET_POLL_SECONDS:-5}"
HEARTBEAT_SECONDS="${RUNNER_FLEET_HEARTBEAT_SECONDS:-60}"
mkdir -p "$RF_STATE" "$(dirname "$RF_LOG")"
INSTANCE_ID=""
REGION=""
GROUP_NAME=""
rm -f "$RF_STATE/identity.env"

# Functions below run in `|| fail` context, where bash ignores `set -e`: every step checks its own
# status with `|| return 1`.

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
    apt-get install -y -q "${packages[@]}" "${RF_EXTRA_PACKAGES[@]}" || return 1
    if ! command -v aws >/dev/null 2>&1; then
      snap install aws-cli --classic || return 1
    fi
  else
    packages+=(iptables-nft)
    [ "$RF_INSTALL_DOCKER" = "true" ] && packages+=(docker)
    dnf install -y -q "${packages[@]}" "${RF_EXTRA_PACKAGES[@]}" || return 1
  fi
  if [ "$RF_INSTALL_DOCKER" = "true" ]; then
    systemctl enable --now docker || return 1
  fi
}

# The runner tarball must have the digest pinned for its version (or given for the fleet): nothing of a
# tampered, truncated or substituted file is unpacked, and its installdependencies.sh never runs as root.
verify_download() {
  local actual
  actual="$(sha256sum "$1" | cut -d ' ' -f 1)" || return 1
  if [ "$actual" != "$RF_RUNNER_SHA256" ]; then
    log "refused the runner download $RF_RUNNER_URL: its SHA-256 is $actual, not $RF_RUNNER_SHA256"
    rm -f -- "$1"
    return 1
  fi
  log "the runner download has the expected SHA-256 $actual"
}

install_runner() {
  local archive="$RF_STATE/runner.tar.gz"
  id runner >/dev/null 2>&1 || useradd --create-home --shell /bin/bash runner || return 1
  if [ "$RF_INSTALL_DOCKER" = "true" ]; then
    usermod -aG docker runner || return 1
  fi
  curl -fsSL --retry 3 -o "$archive" "$RF_RUNNER_URL" || return 1
  verify_download "$archive" || return 1
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

# The registration the Lambda function wrote for this instance only (never printed). The instance role
# reads and deletes only the secret tagged with this instance's ARN.
read_registration() {
  rm -f -- "$RF_STATE/registration.json"
  (umask 077 && aws secretsmanager get-secret-value --secret-id "$RF_SECRET_PREFIX$INSTANCE_ID" \
    --query SecretString --output text >"$RF_STATE/registration.json") || return 1
  [ -s "$RF_STATE/registration.json" ]
}

# As soon as the runner is configured, its registration goes: the secret is deleted (a job, even as
# root, then finds nothing to read with the instance's credentials) and so is the local copy. If the
# secret cannot be deleted, the runner does not start.
forget_registration() {
  rm -f -- "$RF_STATE/registration.json"
  if ! aws secretsmanager delete-secret --secret-id "$RF_SECRET_PREFIX$INSTANCE_ID" --force-delete-without-recovery >/dev/null; then
    log "could not delete the registration secret: the runner does not start while it can still be read"
    return 1
  fi
  log "deleted the registration secret"
}

# A JIT configuration is what run.sh --jitconfig would unpack: base64 of a JSON object that maps each of
# the runner's settings files (.runner, .credentials, .credentials_rsaparams) to its base64 content. It
# is unpacked here instead, into files only the runner user can read, written by the runner user itself:
# the configuration never appears on a command line, which any local user can read (ps, /proc), nor in
# the runner's environment, which its jobs inherit.
install_jit_config() {
  local decoded names name
  decoded="$(field jitConfig | base64 -d 2>/dev/null)" || return 1
  names="$(printf '%s' "$decoded" | jq -r 'if type == "object" and length > 0 and all(.[]; type == "string")
    then keys[] else error("not a JIT configuration") end' 2>/dev/null)" || return 1
  while IFS= read -r name; do
    if ! [[ "$name" =~ ^\.[A-Za-z_]+$ ]]; then
      log "refused the JIT configuration: it names the file $(printf '%q' "$name")"
      return 1
    fi
  done <<<"$names"
  while IFS= read -r name; do
    printf '%s' "$decoded" | jq -r --arg name "$name" '.[$name]' | base64 -d |
      runuser -u runner -- sh -c 'umask 077 && rm -f -- "$1" && cat >"$1"' sh "$RUNNER_DIR/$name" || return 1
  done <<<"$names"
  [ -f "$RUNNER_DIR/.runner" ]
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
  local name
  [ -n "$(field jitConfig)" ] || fail "the registration has no jitConfig"
  name="$(field runnerName 2>/dev/null || true)"
  install_jit_config || fail "cannot unpack the registration's JIT configuration"
  forget_registration || fail "the registration secret is still readable"
  set_marker registered || fail "cannot record that this boot's runner is registered"
  log "starting the ephemeral runner $name"
  run_runner && return 0
  leave_after_runner
}

# After this boot's ephemeral runner has exited.
leave_after_runner() {
  # Whether this boot's runner took a job: job-event's marker, kept after the job (and across a restart
  # of the bootstrap; /run is emptied at every boot).
  if marker_set took-job; then
    log "the runner exited with status ${RUNNER_STATUS:-unknown} after its job: leaving"
    leave job
  else
    # No job took this runner (a rejected JIT configuration, a crash): it is still wanted, as after a
    # failed bootstrap, so the group replaces it and the desired capacity stays.
    log "the runner exited with status ${RUNNER_STATUS:-unknown} before taking a job: replacing this instance"
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
    local args=(--unattended --url "$url" --name "$name" --labels "$labels" --work _work --replace --disableupdate)
    [ -n "$group" ] && args+=(--runnergroup "$group")
    # The token reaches config.sh in its environment (the runner reads ACTIONS_RUNNER_INPUT_<ARG>, then
    # removes it), never on its command line; no job runs while config.sh does.
    (
      export ACTIONS_RUNNER_INPUT_TOKEN="$token"
      cd "$RUNNER_DIR" && runuser -u runner -- ./config.sh "${args[@]}"
    ) >/dev/null || fail "config.sh failed"
    printf '%s' "$marker" >"$RF_STATE/configured"
    printf '%s' "$name" >"$RF_STATE/runner-name"
  fi
  forget_registration || fail "the registration secret is still readable"
  start_persistent "$name"
}

# A persistent runner configured before, whose registration has been used and deleted: the bootstrap
# runs again (systemd restarts it after the runner exits), or the instance boots again.
configured_already() {
  [ -s "$RF_STATE/configured" ] && [ -f "$RUNNER_DIR/.runner" ]
}

start_persistent() {
  local name="$1"
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
  leaving_before_start && return 0
  if [ "$RF_MODE" = "ephemeral" ] && marker_set registered; then
    # The bootstrap runs again in this boot (systemd restarts it when leaving failed): this boot's
    # runner has run, and its registration is gone. Only leaving is left to do.
    log "this boot's runner has run already: leaving"
    leave_after_runner
    return
  fi
  if ! read_registration; then
    if [ "$RF_MODE" = "persistent" ] && configured_already; then
      log "no registration to read (used and deleted): the runner is configured already"
      start_retire_watch
      start_persistent "$(cat "$RF_STATE/runner-name" 2>/dev/null || true)"
      return
    fi
    fail "cannot read the instance's registration"
  fi
  start_retire_watch
  if [ "$RF_MODE" = "ephemeral" ]; then
    run_ephemeral
  else
    run_persistent
  fi
}

main "$@"
