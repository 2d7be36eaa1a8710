#!/bin/bash
# job-event started|finished: run as root (sudo) by the runner's job hooks. Under the job lock the
# retirement check also takes: started sets the busy and took-job markers, finished clears busy. Started
# then protects the instance from scale-in; finished lifts the protection of a persistent runner (an
# ephemeral instance keeps it until it leaves).
set -euo pipefail
# shellcheck source=/dev/null
. "${RUNNER_FLEET_ROOT:-}/opt/runner-fleet/bin/lib.sh"
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
