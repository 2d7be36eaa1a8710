/**
 * Runs the rendered user data and the bootstrap for real, with bash, in a temporary root, with stub
 * commands on PATH that record their arguments and answer from files the test prepares.
 *
 * No outcome depends on timing. The bootstrap's retirement check runs beside the runner and polls; what
 * it sees changes on events, never after a delay: the stubs mark events (files under `stub/events`: the
 * runner listening, a job's worker, each agent action and `aws` subcommand called, ...), and a target
 * state, a spot notice, the job-started hook or a job's end can each wait for one. Every wait is for a
 * condition; its bound (`HANG_GUARD_SECONDS`) only keeps a broken script from hanging the test run.
 *
 * The control plane's instance agent is a `curl` call like the others: the stub records its method, URL,
 * signing option, whether the credentials it was given are the instance role's, its content type and
 * its body (never the credentials themselves), and answers from rules the test sets (200 by default).
 * Every `curl` command line is kept too (`RunResult.argv`), so that tests can show no credential is on one.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { servedPrograms, ServedPrograms } from '../../src/contract/instance-programs';
import { BootstrapOptions, instanceAsset, renderUserData } from '../../src/instances/user-data';

export const INSTANCE_ID = 'i-0123456789abcdef0';
export const AGENT_URL = 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/';
/** The instance role's credentials, as the stub metadata service hands them out (+ / = as in real ones). */
export const CREDENTIALS = {
  AccessKeyId: 'ASIAEXAMPLEACCESSKEY1',
  SecretAccessKey: 'EXAMPLE+SECRET/ACCESS+KEY/wJalrXUtnFEMI0K7MDENG',
  Token: 'IQoJEXAMPLE+SESSION/TOKEN+b3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH==',
};

/** What the stub download serves as the runner tarball unless a test serves something else. */
export const TARBALL = 'the runner release tarball\n';
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * A runner's settings files as GitHub's JIT configuration carries them. The SECRET-marked values stand
 * for the runner's credentials: they must never appear on a command line, in an environment or a log.
 */
export const JIT_FILES: Record<string, string> = {
  '.runner': JSON.stringify({ agentId: 7, agentName: `linux-${INSTANCE_ID}`, poolId: 1, ephemeral: true, serverUrl: 'https://pipelines.example/' }),
  '.credentials': JSON.stringify({ scheme: 'OAuthAccessToken', data: { clientId: 'JIT-SECRET-CLIENT-ID', authorizationUrl: 'https://token.example/' } }),
  '.credentials_rsaparams': JSON.stringify({ d: 'JIT-SECRET-RSA-D', modulus: 'JIT-SECRET-RSA-MODULUS', exponent: 'AQAB' }),
};
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
/** A JIT configuration: base64 of a JSON object that maps each settings file to its base64 content. */
export function encodeJit(files: Record<string, string>): string {
  return base64(JSON.stringify(Object.fromEntries(Object.entries(files).map(([name, content]) => [name, base64(content)]))));
}
export const JIT = encodeJit(JIT_FILES);
/** The registration material a test's secret carries, which must not leak. */
export const REGISTRATION_SECRETS = [JIT, 'JIT-SECRET-CLIENT-ID', 'JIT-SECRET-RSA-D', 'REG-SECRET-TOKEN'];

/**
 * The commands whose every start is recorded with its arguments (`RunResult.exec`), besides the stubs:
 * everything the bootstrap runs on the registration material. What a command line carries, every local
 * user can read (ps, /proc/PID/cmdline).
 */
const RECORDED_COMMANDS = ['jq', 'base64', 'sh', 'cat', 'tee', 'rm', 'mv', 'mktemp', 'sha256sum', 'cut', 'tr', 'stat', 'mkdir', 'chmod', 'touch', 'head', 'env'];

export function defaultOptions(overrides: Partial<BootstrapOptions> = {}): BootstrapOptions {
  return {
    os: 'amazon-linux-2023',
    architecture: 'x64',
    runnerVersion: '2.329.0',
    runnerSha256: sha256(TARBALL),
    mode: 'ephemeral',
    secretPrefix: 'github-runner-fleet/linux/',
    installDocker: true,
    extraPackages: [],
    extraCommands: [],
    blockJobMetadataAccess: true,
    // Only a hang guard: a test about the timeout sets its own (and its states never reach InService).
    inServiceTimeoutSeconds: 600,
    agentUrl: AGENT_URL,
    ...overrides,
  };
}

/** The uid of "the runner user" for a job's step: not root, no group, nothing of its own. */
export const UNPRIVILEGED_UID = 65534;

/** How long a stub waits for an event before it gives up (and records that it did): a hang guard only. */
const HANG_GUARD_SECONDS = 20;

/** Sourced by the stubs: events happen once and are files; awaiting one is waiting for its file. */
const EVENTS_SH = `
event() { : >"$STUB/events/$1"; }
happened() { [ -z "$1" ] || [ -e "$STUB/events/$1" ]; }
await_event() {
  local deadline=$((SECONDS + ${HANG_GUARD_SECONDS}))
  until happened "$1"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "stub: gave up waiting for $1" >>"$STUB/calls"
      return 1
    fi
    sleep 0.01
  done
}
`;

const STUBS: Record<string, string> = {
  // IMDS answers, the instance agent, and downloads written to the -o file. A call is recorded once its
  // answer is known.
  'curl': `
. "$STUB/events.sh"
. "$STUB/credentials.sh"
printf '%s\\n' "$*" >>"$STUB/argv"
out=""; url=""; config=""; sigv4=""; body=""; method=GET; wfmt=""; ctype=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    -K) config="$2"; shift 2 ;;
    --aws-sigv4) sigv4="$2"; shift 2 ;;
    --data-binary) body="$2"; method=POST; shift 2 ;;
    -X) method="$2"; shift 2 ;;
    -H) case "$2" in [Cc]ontent-[Tt]ype:*) ctype="\${2#*: }" ;; esac; shift 2 ;;
    -w) wfmt="$2"; shift 2 ;;
    --retry|--connect-timeout|--max-time) shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
case "$url" in
  https://*.lambda-url.*.on.aws/*)
    # The configuration curl reads on stdin (-K -) carries the credentials: checked, never recorded.
    creds=missing
    if [ "$config" = "-" ]; then
      conf="$(cat)"
      user="$(sed -n 's/^user = "\\(.*\\)"$/\\1/p' <<<"$conf")"
      token="$(sed -n 's/^header = "x-amz-security-token: \\(.*\\)"$/\\1/p' <<<"$conf")"
      creds=wrong
      [ "$user" = "$ACCESS_KEY_ID:$SECRET_ACCESS_KEY" ] && [ "$token" = "$SESSION_TOKEN" ] && creds=ok
    fi
    action="$(jq -r '.action // empty' <<<"$body" 2>/dev/null)"
    (
      flock 8
      # Rules, one JSON object a line: {"when": {fields the body has}, "status": N, "message": "...",
      # "once": true}; the first that matches answers (a "once" rule only once); otherwise 200.
      status=200; message="done"; answer='{}'
      [ "$action" = whoami ] && answer='{"autoScalingGroupName":"linux-asg"}'
      [ "$action" = programs ] && answer="$(cat "$STUB/programs.json")"
      n=0
      if [ -f "$STUB/agent-answers" ]; then
        while IFS= read -r rule; do
          n=$((n + 1))
          if jq -e --argjson b "$body" '.when | to_entries | all(.value == $b[.key])' <<<"$rule" >/dev/null 2>&1; then
            status="$(jq -r .status <<<"$rule")"; message="$(jq -r '.message // "refused by the stub"' <<<"$rule")"; answer='{}'
            [ "$(jq -r '.once // false' <<<"$rule")" = true ] && sed -i "\${n}d" "$STUB/agent-answers"
            break
          fi
        done <"$STUB/agent-answers"
      fi
      echo "agent $method $url $sigv4 creds=$creds content-type=$ctype $body" >>"$STUB/calls"
      event "agent-$action"
      if [ "$status" = 0 ]; then
        echo "curl: (7) Failed to connect to the agent" >&2
        printf '%b' "\${wfmt//'%{http_code}'/000}"
        exit 7
      fi
      jq -cn --argjson a "$answer" --arg m "$message" --argjson s "$status" '$a + {ok: ($s == 200), message: $m}'
      printf '%b' "\${wfmt//'%{http_code}'/$status}"
    ) 8>"$STUB/agent.lock" ;;
  */meta-data/spot/instance-action)
    echo "curl $url" >>"$STUB/calls"
    if [ -f "$STUB/spot" ] && happened "$(cat "$STUB/spot")"; then echo '{"action":"terminate","time":"2026-11-24T10:02:00Z"}'; else exit 22; fi ;;
  */meta-data/autoscaling/target-lifecycle-state)
    # One line per read, the last one repeats; a line "STATE when EVENT" is held back until EVENT has
    # happened, and reads before then get the previous answer again.
    (
      flock 8
      next="$(head -n 1 "$STUB/states")"
      state="\${next%% when *}"
      if [ "$state" != "$next" ] && ! happened "\${next#* when }"; then
        state="$(cat "$STUB/state.last" 2>/dev/null)" || exit 22
      elif [ "$(wc -l <"$STUB/states")" -gt 1 ]; then
        tail -n +2 "$STUB/states" >"$STUB/states.tmp"; mv "$STUB/states.tmp" "$STUB/states"
      fi
      printf '%s\\n' "$state" >"$STUB/state.last"
      echo "curl $url" >>"$STUB/calls"
      echo "$state"
    ) 8>"$STUB/states.lock" ;;
  *)
    echo "curl $url" >>"$STUB/calls"
    case "$url" in
      */latest/api/token) echo IMDSTOKEN ;;
      */meta-data/instance-id) echo ${INSTANCE_ID} ;;
      */meta-data/placement/region) echo eu-west-1 ;;
      */meta-data/iam/security-credentials/) echo runner-fleet-instance-role ;;
      */meta-data/iam/security-credentials/runner-fleet-instance-role)
        printf '{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"%s","SecretAccessKey":"%s","Token":"%s"}' "$ACCESS_KEY_ID" "$SECRET_ACCESS_KEY" "$SESSION_TOKEN" ;;
      *) [ -n "$out" ] && cat "$STUB/tarball" >"$out" ;;
    esac ;;
esac`,
  // Each subcommand called is an event (aws-SUBCOMMAND). The instance role has no Auto Scaling
  // permission: such a call fails as the CLI does when the service refuses (exit status 254).
  'aws': `
. "$STUB/events.sh"
echo "aws $*" >>"$STUB/calls"
event "aws-$2"
case "$1" in
  autoscaling) echo "An error occurred (AccessDenied) when calling the $2 operation: no Auto Scaling permission" >&2; exit 254 ;;
esac
# The secret: read while it exists; deleted (as the instance role may, its own only) for good.
case "$*" in
  *get-secret-value*)
    [ -f "$STUB/secret" ] || { echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation" >&2; exit 254; }
    cat "$STUB/secret" ;;
  *delete-secret*)
    [ ! -f "$STUB/delete-fails" ] || { echo "An error occurred (AccessDeniedException) when calling the DeleteSecret operation" >&2; exit 254; }
    rm -f "$STUB/secret" ;;
  *) true ;;
esac`,
  'dnf': 'echo "dnf $*" >>"$STUB/calls"; [ ! -f "$STUB/install-fails" ]',
  'apt-get': 'echo "apt-get $*" >>"$STUB/calls"; [ ! -f "$STUB/install-fails" ]',
  'snap': 'echo "snap $*" >>"$STUB/calls"',
  'id': 'echo "id $*" >>"$STUB/calls"; exit 1',
  'useradd': 'echo "useradd $*" >>"$STUB/calls"',
  'usermod': 'echo "usermod $*" >>"$STUB/calls"',
  'chown': 'echo "chown $*" >>"$STUB/calls"',
  'systemctl': 'echo "systemctl $*" >>"$STUB/calls"',
  'iptables': 'echo "iptables $*" >>"$STUB/calls"; case "$1" in -C) exit 1 ;; esac',
  // Recorded, then the real install (owner and group only when the tests run as root).
  'install': `
echo "install $*" >>"$STUB/calls"
args=()
while [ $# -gt 0 ]; do
  case "$1" in -o|-g) [ "$EUID" -eq 0 ] && args+=("$1" "$2"); shift 2 ;; *) args+=("$1"); shift ;; esac
done
PATH="\${PATH#*:}"
exec install "\${args[@]}"`,
  // Extracting the runner creates its scripts, which record how they are run.
  'tar': `
echo "tar $*" >>"$STUB/calls"
dir=""; while [ $# -gt 0 ]; do case "$1" in -C) dir="$2"; shift 2 ;; *) shift ;; esac; done
mkdir -p "$dir/bin"
for f in run.sh config.sh bin/installdependencies.sh; do
  printf '#!/bin/bash\\necho "%s $*" >>"$STUB/calls"\\n' "$f" >"$dir/$f"; chmod +x "$dir/$f"
  # What reaches the runner's programs in their environment (ACTIONS_RUNNER_INPUT_*), kept apart.
  printf 'env | grep "^ACTIONS_RUNNER_INPUT_" | sed "s|^|%s |" >>"$STUB/runner-env" || true\\n' "$f" >>"$dir/$f"
done
cat "$STUB/run.sh.stub" >>"$dir/run.sh"`,
  // The runner's processes: a worker exists while a job runs; stopping the listener ends run.sh.
  'pgrep': 'echo "pgrep $*" >>"$STUB/calls"; case "$*" in *Runner.Worker*) [ -f "$STUB/worker" ] ;; *) [ -f "$STUB/listener" ] ;; esac',
  'pkill': '. "$STUB/events.sh"; echo "pkill $*" >>"$STUB/calls"; event listener-stopped',
  // sudo as the rendered sudoers file allows it: the exact command lines of its runner rule, nothing
  // else, then run as root (here: as the test; the environment is kept so that the test root applies).
  'sudo': `
echo "sudo $*" >>"$STUB/calls"
[ "$1" = "-n" ] && shift
rule="$(grep '^runner ' "$RUNNER_FLEET_ROOT/etc/sudoers.d/runner-fleet" 2>/dev/null)"
allowed=""
IFS=',' read -ra commands <<<"\${rule#*NOPASSWD: }"
for command in "\${commands[@]}"; do [ "\${command# }" = "$*" ] && allowed=yes; done
if [ -z "$rule" ] || [ -z "$allowed" ]; then
  echo "sudo: refused $*" >>"$STUB/calls"
  echo "sudo: a password is required" >&2
  exit 1
fi
program="$1"; shift
exec "$RUNNER_FLEET_ROOT$program" "$@"`,
  'runuser': 'echo "runuser $*" >>"$STUB/calls"; shift 3; "$@"',
};

/**
 * What the stub run.sh does after recording its call: with the file `listen`, its listener runs (event
 * `listening`); with the file `job`, it runs one job the way the runner does: the worker exists from the
 * start (event `worker`), the job-started hook runs (once `job.hook-after`'s event, if any, has
 * happened), the job's steps run (event `job-running`; `job.step`, if any, as an unprivileged user) until
 * `job.done-after`'s event, if any, then the job-completed hook runs and the worker ends (event
 * `job-done`). With `listen`, it then waits for jobs until its listener is stopped (pkill: event
 * `listener-stopped`).
 */
const RUN_SH_STUB = `
. "$STUB/events.sh"
hooks="$RUNNER_FLEET_ROOT/opt/runner-fleet/bin"
if [ -f "$STUB/listen" ]; then
  touch "$STUB/listener"
  event listening
fi
if [ -f "$STUB/job" ]; then
  touch "$STUB/worker"
  event worker
  await_event "$(cat "$STUB/job.hook-after")"
  "$hooks/job-started"
  echo "job steps running" >>"$STUB/calls"
  if [ -f "$STUB/job.step" ]; then
    setpriv --reuid=${UNPRIVILEGED_UID} --regid=${UNPRIVILEGED_UID} --clear-groups -- bash "$STUB/job.step" >>"$STUB/job.step.out" 2>&1
    echo "job step exited $?" >>"$STUB/calls"
  fi
  event job-running
  await_event "$(cat "$STUB/job.done-after")"
  echo "job steps done" >>"$STUB/calls"
  "$hooks/job-completed"
  rm -f "$STUB/worker"
  event job-done
fi
if [ -f "$STUB/listen" ]; then
  await_event listener-stopped
  rm -f "$STUB/listener"
  echo "listener stopped" >>"$STUB/calls"
fi
`;

/** Whether the tests run as root, which running a job's step as another user needs. */
export const RUNNING_AS_ROOT = process.getuid?.() === 0;

/** A job of the stub runner: what its hook and its end wait for (an event name, see RUN_SH_STUB). */
export interface JobOptions {
  /** The job-started hook runs only once this event has happened. @default - at once */
  readonly hookAfter?: string;
  /** The job's steps end only once this event has happened. @default - at once */
  readonly doneAfter?: string;
  /**
   * A bash script the job's steps run as an unprivileged user (uid 65534), the way a workflow's code runs
   * as the runner user. Needs the tests to run as root. @default - none
   */
  readonly step?: string;
}

export interface RunResult {
  readonly status: number;
  readonly output: string;
  readonly calls: string[];
  /** Every curl command line, whole. */
  readonly argv: string[];
  /** Every start of the recorded commands (jq, base64, sh, cat, ...), with its arguments. */
  readonly exec: string[];
  /** `PROGRAM NAME=VALUE` for each ACTIONS_RUNNER_INPUT_* variable the runner's programs were given. */
  readonly runnerEnv: string[];
  readonly root: string;
  readonly log: string;
}

/** The line the stub records for a correctly signed agent request with this body. */
export function agentCall(body: object): string {
  return `agent POST ${AGENT_URL} aws:amz:eu-west-1:lambda creds=ok content-type=application/json ${JSON.stringify(body)}`;
}

/** How the stub agent answers the requests whose body has these fields. */
export interface AgentAnswer {
  /** 0: the connection fails. */
  readonly status: number;
  readonly message?: string;
  /** Only the first matching request gets this answer. @default false */
  readonly once?: boolean;
}

/** What the stubs record, one line per call: the calls, every curl command line, every recorded command. */
const RECORDS = ['calls', 'argv', 'exec'];

/** The non-empty lines of a file ([] when there is none). */
function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

export class Sandbox {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-fleet-'));
  readonly root = path.join(this.dir, 'root');
  readonly stub = path.join(this.dir, 'stub');
  readonly bin = path.join(this.dir, 'bin');
  /** Extra environment for the programs (e.g. RUNNER_FLEET_IMDS). */
  readonly extraEnv: Record<string, string> = {};

  constructor() {
    fs.mkdirSync(this.root);
    fs.mkdirSync(this.stub);
    fs.mkdirSync(this.bin);
    for (const [name, body] of Object.entries(STUBS)) {
      fs.writeFileSync(path.join(this.bin, name), `#!/bin/bash\n${body.replace(/\$\{INSTANCE_ID\}/g, INSTANCE_ID)}\n`, { mode: 0o755 });
    }
    fs.mkdirSync(path.join(this.stub, 'events'));
    fs.writeFileSync(path.join(this.stub, 'events.sh'), EVENTS_SH);
    fs.writeFileSync(path.join(this.stub, 'credentials.sh'), [
      `ACCESS_KEY_ID='${CREDENTIALS.AccessKeyId}'`,
      `SECRET_ACCESS_KEY='${CREDENTIALS.SecretAccessKey}'`,
      `SESSION_TOKEN='${CREDENTIALS.Token}'`,
      '',
    ].join('\n'));
    fs.writeFileSync(path.join(this.stub, 'calls'), '');
    fs.writeFileSync(path.join(this.stub, 'argv'), '');
    fs.writeFileSync(path.join(this.stub, 'run.sh.stub'), RUN_SH_STUB);
    fs.writeFileSync(path.join(this.stub, 'tarball'), TARBALL);
    fs.writeFileSync(path.join(this.stub, 'exec'), '');
    fs.writeFileSync(path.join(this.stub, 'runner-env'), '');
    this.servePrograms(servedPrograms(instanceAsset));
    for (const name of RECORDED_COMMANDS) {
      // Recorded, then the system's own command (the next one on PATH after this folder).
      fs.writeFileSync(path.join(this.bin, name), [
        '#!/bin/bash',
        `printf '%s\\n' "${name} $*" >>"$STUB/exec"`,
        `PATH="\${PATH//${this.bin}:/}" exec ${name} "$@"`,
        '',
      ].join('\n'), { mode: 0o755 });
    }
    this.states(['InService']);
  }

  /**
   * Successive answers of the target lifecycle state, one per read (the last one repeats). An answer
   * written `STATE when EVENT` comes only once EVENT has happened; until then the previous one repeats.
   */
  states(states: string[]): void {
    fs.rmSync(path.join(this.stub, 'state.last'), { force: true });
    fs.writeFileSync(path.join(this.stub, 'states'), states.join('\n') + '\n');
  }

  /** What the stub agent answers a programs request with (by default: as the real agent does, from assets/instance). */
  servePrograms(programs: ServedPrograms): void {
    fs.writeFileSync(path.join(this.stub, 'programs.json'), JSON.stringify(programs));
  }

  secret(value: object): void {
    fs.writeFileSync(path.join(this.stub, 'secret'), JSON.stringify(value));
  }

  /** The download serves this as the runner tarball (a tampered or substituted file). */
  tarball(content: string): void {
    fs.writeFileSync(path.join(this.stub, 'tarball'), content);
  }

  flag(name: 'install-fails' | 'listen' | 'delete-fails', content = ''): void {
    fs.writeFileSync(path.join(this.stub, name), content);
  }

  /** The agent answers requests whose body has all these fields this way (rules apply in order). */
  agentAnswers(when: object, answer: AgentAnswer): void {
    fs.appendFileSync(path.join(this.stub, 'agent-answers'), `${JSON.stringify({ when, ...answer })}\n`);
  }

  /** A spot interruption notice: at once, or once an event has happened. */
  spotNotice(after = ''): void {
    fs.writeFileSync(path.join(this.stub, 'spot'), after);
  }

  /** The runner will run one job as soon as it starts. */
  job(options: JobOptions = {}): void {
    fs.writeFileSync(path.join(this.stub, 'job.hook-after'), options.hookAfter ?? '');
    fs.writeFileSync(path.join(this.stub, 'job.done-after'), options.doneAfter ?? '');
    if (options.step !== undefined) {
      fs.writeFileSync(path.join(this.stub, 'job.step'), options.step);
      // The unprivileged user must reach the test root, as any user reaches / on an instance.
      fs.chmodSync(this.dir, 0o755);
      fs.chmodSync(this.root, 0o755);
    }
    fs.writeFileSync(path.join(this.stub, 'job'), '');
  }

  /** The programs will run the system's own command of this name, not the stub. */
  withoutStub(name: string): void {
    fs.rmSync(path.join(this.bin, name));
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: `${this.bin}:${process.env.PATH}`,
      HOME: this.dir,
      STUB: this.stub,
      RUNNER_FLEET_ROOT: this.root,
      RUNNER_FLEET_POLL_SECONDS: '0.1',
      RUNNER_FLEET_HEARTBEAT_SECONDS: '0',
      RUNNER_FLEET_AGENT_RETRY_SECONDS: '0',
      ...this.extraEnv,
    };
  }

  /**
   * Runs the user data (fetches the programs from the stub agent and installs them, with the settings).
   * What it recorded is in the result, and kept aside (`recorded({ withUserData: true })`); the records
   * then start afresh, so that what a test runs next (the bootstrap, as systemd would) is recorded alone.
   */
  install(options: BootstrapOptions): RunResult {
    const script = path.join(this.dir, 'user-data.sh');
    fs.writeFileSync(script, renderUserData(options));
    const result = this.run(script);
    for (const record of RECORDS) {
      fs.appendFileSync(path.join(this.stub, `${record}.user-data`), fs.readFileSync(path.join(this.stub, record)));
      fs.writeFileSync(path.join(this.stub, record), '');
    }
    return result;
  }

  run(script: string, args: string[] = []): RunResult {
    // The timeout is a hang guard, above the stubs' own.
    const result = spawnSync('bash', [script, ...args], { env: this.env(), encoding: 'utf8', timeout: 28_000 });
    return this.result(result.status ?? -1, `${result.stdout}${result.stderr}`);
  }

  /** Starts a script in the background; `exited` resolves with its result once it has exited. */
  start(script: string, args: string[] = []): { process: ChildProcess; exited: Promise<RunResult> } {
    const child = spawn('bash', [script, ...args], { env: this.env() });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve(this.result(code ?? -1, output))));
    return { process: child, exited };
  }

  /**
   * Everything recorded so far: the calls, every curl command line and the log; since the user data
   * ran (install), unless `withUserData` adds the user data's records before them.
   */
  recorded(options: { withUserData?: boolean } = {}): { calls: string[]; argv: string[]; exec: string[]; log: string } {
    const { calls, argv, exec, log } = this.result(0, '');
    if (!options.withUserData) {
      return { calls, argv, exec, log };
    }
    const before = (record: string): string[] => lines(path.join(this.stub, `${record}.user-data`));
    return { calls: [...before('calls'), ...calls], argv: [...before('argv'), ...argv], exec: [...before('exec'), ...exec], log };
  }

  /** Whether an event (see RUN_SH_STUB and the stubs) has happened. */
  happened(event: string): boolean {
    return fs.existsSync(path.join(this.stub, 'events', event));
  }

  private result(status: number, output: string): RunResult {
    const logFile = path.join(this.root, 'var/log/runner-fleet/bootstrap.log');
    return {
      status,
      output,
      calls: fs.readFileSync(path.join(this.stub, 'calls'), 'utf8').split('\n').filter((l) => l !== ''),
      argv: fs.readFileSync(path.join(this.stub, 'argv'), 'utf8').split('\n').filter((l) => l !== ''),
      exec: fs.readFileSync(path.join(this.stub, 'exec'), 'utf8').split('\n').filter((l) => l !== ''),
      runnerEnv: fs.readFileSync(path.join(this.stub, 'runner-env'), 'utf8').split('\n').filter((l) => l !== ''),
      root: this.root,
      log: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '',
    };
  }

  bootstrap(): RunResult {
    return this.run(path.join(this.root, 'opt/runner-fleet/bin/bootstrap'));
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** shellcheck findings (warnings and errors) for a script text; '' when clean. */
export function shellcheck(text: string): string {
  const result = spawnSync('shellcheck', ['-s', 'bash', '-S', 'warning', '-'], { input: text, encoding: 'utf8' });
  return result.status === 0 ? '' : `${result.stdout}${result.stderr}`;
}

/** `bash -n` result for a script text; '' when it parses. */
export function bashSyntax(text: string): string {
  try {
    execFileSync('bash', ['-n'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
    return '';
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

/** Index of the first call matching a pattern (-1 when none). */
export function indexOfCall(calls: string[], pattern: RegExp): number {
  return calls.findIndex((c) => pattern.test(c));
}

/**
 * Waits until a condition holds, checking every 10 ms. The bound is a hang guard: past it the wait
 * fails, naming what it waited for.
 */
export async function until(condition: () => boolean, what: string, boundMs = 20_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * How many lock requests wait for a lock on this file, as the kernel reports them (/proc/locks lists a
 * blocked request as "N: -> FLOCK ... MAJOR:MINOR:INODE ...").
 */
export function lockWaiters(file: string): number {
  const inode = fs.statSync(file).ino;
  return fs.readFileSync('/proc/locks', 'utf8').split('\n')
    .filter((line) => / -> /.test(line) && line.split(/\s+/).some((field) => field.endsWith(`:${inode}`))).length;
}
