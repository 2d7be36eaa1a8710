/**
 * Runs the rendered user data and the bootstrap for real, with bash, in a temporary root, with stub
 * commands on PATH that record their arguments and answer from files the test prepares.
 *
 * No outcome depends on timing. The bootstrap's retirement check runs beside the runner and polls; what
 * it sees changes on events, never after a delay: the stubs mark events (files under `stub/events`: the
 * runner listening, a job's worker, each `aws` subcommand called, ...), and a target state, a spot
 * notice, the job-started hook or a job's end can each wait for one. Every wait is for a condition; its
 * bound (`HANG_GUARD_SECONDS`) only keeps a broken script from hanging the test run.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BootstrapOptions, renderUserData } from '../../src/instances/user-data';

export const INSTANCE_ID = 'i-0123456789abcdef0';

export function defaultOptions(overrides: Partial<BootstrapOptions> = {}): BootstrapOptions {
  return {
    os: 'amazon-linux-2023',
    architecture: 'x64',
    runnerVersion: '2.329.0',
    mode: 'ephemeral',
    secretPrefix: 'github-runner-fleet/linux/',
    launchHookName: 'github-runner-fleet-launch',
    terminateHookName: 'github-runner-fleet-terminate',
    installDocker: true,
    extraPackages: [],
    extraCommands: [],
    blockJobMetadataAccess: true,
    // Only a hang guard: a test about the timeout sets its own (and its states never reach InService).
    inServiceTimeoutSeconds: 600,
    ...overrides,
  };
}

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
  // IMDS answers, and downloads written to the -o file. A call is recorded once its answer is known.
  'curl': `
. "$STUB/events.sh"
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift 2 ;; -H|-X|--retry) shift 2 ;; -*) shift ;; *) url="$1"; shift ;; esac
done
case "$url" in
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
      *) [ -n "$out" ] && echo "tarball" >"$out" ;;
    esac ;;
esac`,
  // Each subcommand called is an event (aws-SUBCOMMAND); a call whose words contain a line of aws-fails
  // fails as the CLI does when the service refuses (exit status 254).
  'aws': `
. "$STUB/events.sh"
echo "aws $*" >>"$STUB/calls"
event "aws-$2"
if [ -f "$STUB/aws-fails" ]; then
  while IFS= read -r words; do
    case " $* " in
      *" $words "*) echo "An error occurred (ValidationError) when calling the $2 operation: refused by the stub" >&2; exit 254 ;;
    esac
  done <"$STUB/aws-fails"
fi
case "$*" in
  *describe-auto-scaling-instances*) echo linux-asg ;;
  *get-secret-value*) cat "$STUB/secret" ;;
  *complete-lifecycle-action*) [ ! -f "$STUB/complete-fails" ] ;;
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
  // Extracting the runner creates its scripts, which record how they are run.
  'tar': `
echo "tar $*" >>"$STUB/calls"
dir=""; while [ $# -gt 0 ]; do case "$1" in -C) dir="$2"; shift 2 ;; *) shift ;; esac; done
mkdir -p "$dir/bin"
for f in run.sh config.sh bin/installdependencies.sh; do
  printf '#!/bin/bash\\necho "%s $*" >>"$STUB/calls"\\n' "$f" >"$dir/$f"; chmod +x "$dir/$f"
done
cat "$STUB/run.sh.stub" >>"$dir/run.sh"`,
  // The runner's processes: a worker exists while a job runs; stopping the listener ends run.sh.
  'pgrep': 'echo "pgrep $*" >>"$STUB/calls"; case "$*" in *Runner.Worker*) [ -f "$STUB/worker" ] ;; *) [ -f "$STUB/listener" ] ;; esac',
  'pkill': '. "$STUB/events.sh"; echo "pkill $*" >>"$STUB/calls"; event listener-stopped',
  'sudo': 'echo "sudo $*" >>"$STUB/calls"',
  'runuser': 'echo "runuser $*" >>"$STUB/calls"; shift 3; "$@"',
};

/**
 * What the stub run.sh does after recording its call: with the file `listen`, its listener runs (event
 * `listening`); with the file `job`, it runs one job the way the runner does: the worker exists from the
 * start (event `worker`), the job-started hook runs (once `job.hook-after`'s event, if any, has
 * happened), the job's steps run (event `job-running`) until `job.done-after`'s event, if any, then the
 * job-completed hook runs and the worker ends (event `job-done`). With `listen`, it then waits for jobs
 * until its listener is stopped (pkill: event `listener-stopped`).
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

/** A job of the stub runner: what its hook and its end wait for (an event name, see RUN_SH_STUB). */
export interface JobOptions {
  /** The job-started hook runs only once this event has happened. @default - at once */
  readonly hookAfter?: string;
  /** The job's steps end only once this event has happened. @default - at once */
  readonly doneAfter?: string;
}

export interface RunResult {
  readonly status: number;
  readonly output: string;
  readonly calls: string[];
  readonly root: string;
  readonly log: string;
}

export class Sandbox {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-fleet-'));
  readonly root = path.join(this.dir, 'root');
  readonly stub = path.join(this.dir, 'stub');
  readonly bin = path.join(this.dir, 'bin');

  constructor() {
    fs.mkdirSync(this.root);
    fs.mkdirSync(this.stub);
    fs.mkdirSync(this.bin);
    for (const [name, body] of Object.entries(STUBS)) {
      fs.writeFileSync(path.join(this.bin, name), `#!/bin/bash\n${body.replace(/\$\{INSTANCE_ID\}/g, INSTANCE_ID)}\n`, { mode: 0o755 });
    }
    fs.mkdirSync(path.join(this.stub, 'events'));
    fs.writeFileSync(path.join(this.stub, 'events.sh'), EVENTS_SH);
    fs.writeFileSync(path.join(this.stub, 'calls'), '');
    fs.writeFileSync(path.join(this.stub, 'run.sh.stub'), RUN_SH_STUB);
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

  secret(value: object): void {
    fs.writeFileSync(path.join(this.stub, 'secret'), JSON.stringify(value));
  }

  flag(name: 'install-fails' | 'complete-fails' | 'listen', content = ''): void {
    fs.writeFileSync(path.join(this.stub, name), content);
  }

  /** A spot interruption notice: at once, or once an event has happened. */
  spotNotice(after = ''): void {
    fs.writeFileSync(path.join(this.stub, 'spot'), after);
  }

  /** `aws` calls whose words contain these words (e.g. one option) fail as a refused request does. */
  awsFails(words: string): void {
    fs.appendFileSync(path.join(this.stub, 'aws-fails'), `${words}\n`);
  }

  /** The runner will run one job as soon as it starts. */
  job(options: JobOptions = {}): void {
    fs.writeFileSync(path.join(this.stub, 'job.hook-after'), options.hookAfter ?? '');
    fs.writeFileSync(path.join(this.stub, 'job.done-after'), options.doneAfter ?? '');
    fs.writeFileSync(path.join(this.stub, 'job'), '');
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: `${this.bin}:${process.env.PATH}`,
      HOME: this.dir,
      STUB: this.stub,
      RUNNER_FLEET_ROOT: this.root,
      RUNNER_FLEET_POLL_SECONDS: '0.1',
      RUNNER_FLEET_HEARTBEAT_SECONDS: '0',
    };
  }

  /** Runs the user data (installs the files), then the bootstrap as systemd would. */
  install(options: BootstrapOptions): RunResult {
    const script = path.join(this.dir, 'user-data.sh');
    fs.writeFileSync(script, renderUserData(options));
    return this.run(script);
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
