/**
 * Runs the rendered user data and the bootstrap for real, with bash, in a temporary root, with stub
 * commands on PATH that record their arguments and answer from files the test prepares.
 */
import { execFileSync, spawnSync } from 'child_process';
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
    inServiceTimeoutSeconds: 5,
    ...overrides,
  };
}

const STUBS: Record<string, string> = {
  // IMDS answers, and downloads written to the -o file.
  'curl': `
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift 2 ;; -H|-X|--retry) shift 2 ;; -*) shift ;; *) url="$1"; shift ;; esac
done
echo "curl $url" >>"$STUB/calls"
case "$url" in
  */latest/api/token) echo IMDSTOKEN ;;
  */meta-data/instance-id) echo ${INSTANCE_ID} ;;
  */meta-data/placement/region) echo eu-west-1 ;;
  */meta-data/spot/instance-action)
    if [ -f "$STUB/spot" ]; then echo '{"action":"terminate","time":"2026-11-24T10:02:00Z"}'; else exit 22; fi ;;
  */meta-data/autoscaling/target-lifecycle-state)
    first="$(head -n 1 "$STUB/states")"
    if [ "$(wc -l <"$STUB/states")" -gt 1 ]; then tail -n +2 "$STUB/states" >"$STUB/states.tmp"; mv "$STUB/states.tmp" "$STUB/states"; fi
    echo "$first" ;;
  *) [ -n "$out" ] && echo "tarball" >"$out" ;;
esac`,
  'aws': `
echo "aws $*" >>"$STUB/calls"
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
  'pkill': 'echo "pkill $*" >>"$STUB/calls"; touch "$STUB/listener-stopped"',
  'sudo': 'echo "sudo $*" >>"$STUB/calls"',
  'runuser': 'echo "runuser $*" >>"$STUB/calls"; shift 3; "$@"',
};

/**
 * What the stub run.sh does after recording its call: with the file \`job\` (its content: seconds), it
 * runs one job the way the runner does (the worker exists from the start, the job hooks around the
 * job's steps); with the file \`listen\`, it then waits for jobs until its listener is stopped (pkill),
 * at most 10 seconds.
 */
const RUN_SH_STUB = `
hooks="$RUNNER_FLEET_ROOT/opt/runner-fleet/bin"
[ -f "$STUB/listen" ] && touch "$STUB/listener"
if [ -f "$STUB/job" ]; then
  touch "$STUB/worker"
  "$hooks/job-started"
  echo "job steps running" >>"$STUB/calls"
  sleep "$(cat "$STUB/job")"
  echo "job steps done" >>"$STUB/calls"
  "$hooks/job-completed"
  rm -f "$STUB/worker"
fi
if [ -f "$STUB/listen" ]; then
  for _ in $(seq 1 200); do
    [ -f "$STUB/listener-stopped" ] && break
    sleep 0.05
  done
  rm -f "$STUB/listener"
  echo "listener stopped" >>"$STUB/calls"
fi
`;

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
    fs.writeFileSync(path.join(this.stub, 'calls'), '');
    fs.writeFileSync(path.join(this.stub, 'run.sh.stub'), RUN_SH_STUB);
    this.states(['InService']);
  }

  /** Successive answers of the target lifecycle state (the last one repeats). */
  states(states: string[]): void {
    fs.writeFileSync(path.join(this.stub, 'states'), states.join('\n') + '\n');
  }

  secret(value: object): void {
    fs.writeFileSync(path.join(this.stub, 'secret'), JSON.stringify(value));
  }

  flag(name: 'install-fails' | 'complete-fails' | 'listen' | 'spot', content = ''): void {
    fs.writeFileSync(path.join(this.stub, name), content);
  }

  /** The runner will run one job of `seconds` as soon as it starts. */
  job(seconds: number): void {
    fs.writeFileSync(path.join(this.stub, 'job'), String(seconds));
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
    const result = spawnSync('bash', [script, ...args], { env: this.env(), encoding: 'utf8', timeout: 30_000 });
    const logFile = path.join(this.root, 'var/log/runner-fleet/bootstrap.log');
    return {
      status: result.status ?? -1,
      output: `${result.stdout}${result.stderr}`,
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
