#!/bin/bash
# Runner job-started hook (runs as the runner user before every job). The runner user changes this
# instance's state only through job-event, as root (see /etc/sudoers.d/runner-fleet).
sudo -n /opt/runner-fleet/bin/job-event started || echo "runner-fleet: could not record that a job started" >&2
exit 0
