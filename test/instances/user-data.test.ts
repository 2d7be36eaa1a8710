import { execFileSync, spawn } from 'child_process';
import { existsSync, mkdirSync, readFileSync } from 'fs';
import fc from 'fast-check';
import { bashSyntax, defaultOptions, indexOfCall, INSTANCE_ID, Sandbox, shellcheck } from './harness';
import { shellQuote } from '../../src/instances/shell';
import { bootstrapFiles, renderUserData, runnerDownloadUrl } from '../../src/instances/user-data';

const variants: Array<ReturnType<typeof defaultOptions>> = [];
for (const os of ['amazon-linux-2023', 'ubuntu'] as const) {
  for (const architecture of ['x64', 'arm64'] as const) {
    for (const mode of ['ephemeral', 'persistent'] as const) {
      for (const flags of [[true, true], [false, false]] as const) {
        variants.push(defaultOptions({ os, architecture, mode, installDocker: flags[0], blockJobMetadataAccess: flags[1] }));
      }
    }
  }
}
variants.push(defaultOptions({
  extraPackages: ['htop', 'python3.12', 'libstdc++'],
  extraCommands: ['echo "it\'s $HOME" > /tmp/x', "printf '%s\\n' 'single \"quotes\" and $dollars'", 'export A="b c"; echo "$A"'],
}));

describe('rendered user data: static checks', () => {
  test.each(variants.map((v, i) => [i, `${v.os} ${v.architecture} ${v.mode} docker=${v.installDocker} block=${v.blockJobMetadataAccess}`, v]))(
    'variant %d (%s): bash -n and shellcheck are clean for the user data and every script it installs', (_i, _name, options) => {
      const userData = renderUserData(options);
      expect(bashSyntax(userData)).toBe('');
      expect(shellcheck(userData)).toBe('');
      for (const file of bootstrapFiles(options).filter((f) => !f.path.endsWith('.service'))) {
        expect({ file: file.path, syntax: bashSyntax(file.content) }).toEqual({ file: file.path, syntax: '' });
        expect({ file: file.path, findings: shellcheck(file.content) }).toEqual({ file: file.path, findings: '' });
      }
    });

  test('the runner tarball follows the architecture and version', () => {
    expect(runnerDownloadUrl(defaultOptions({ architecture: 'arm64', runnerVersion: '2.330.1' })))
      .toBe('https://github.com/actions/runner/releases/download/v2.330.1/actions-runner-linux-arm64-2.330.1.tar.gz');
  });

  test.each([
    [{ runnerVersion: 'latest' }, 'runnerVersion ("latest") is not a version'],
    [{ secretPrefix: '' }, 'secretPrefix ("") must be a Secrets Manager name prefix ending with "/"'],
    [{ secretPrefix: 'no-slash' }, 'secretPrefix ("no-slash")'],
    [{ extraPackages: ['ok', 'bad;rm -rf /'] }, 'extraPackages contains "bad;rm -rf /"'],
    [{ inServiceTimeoutSeconds: 0 }, 'inServiceTimeoutSeconds (0)'],
    [{ runnerDownloadBaseUrl: 'http://mirror' }, 'runnerDownloadBaseUrl ("http://mirror") must be an https URL'],
  ])('refuses %p', (overrides, message) => {
    expect(() => renderUserData(defaultOptions(overrides as object))).toThrow(message);
  });
});

describe('shellQuote', () => {
  test('property: any string survives a round trip through bash', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')), (value) => {
      const out = execFileSync('bash', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' });
      expect(out).toBe(value);
    }), { numRuns: 60 });
  });
});

describe('bootstrap, run with stub commands', () => {
  let box: Sandbox;
  beforeEach(() => {
    box = new Sandbox();
  });
  afterEach(() => {
    box.cleanup();
  });

  test('user data installs the programs and enables the unit that runs them at every boot', () => {
    const result = box.install(defaultOptions());
    expect(result.status).toBe(0);
    expect(result.calls).toEqual(['systemctl daemon-reload', 'systemctl enable runner-fleet.service', 'systemctl start --no-block runner-fleet.service']);
  });

  test('warm-pool launch: prepares, completes its own launch action with CONTINUE, is not registered', () => {
    box.install(defaultOptions({ extraCommands: ['echo extra >"$RUNNER_FLEET_ROOT/extra-ran"'] }));
    box.states(['Warmed:Pending:Wait']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const install = indexOfCall(calls, /^dnf install -y -q jq tar gzip git iptables-nft docker/);
    const download = indexOfCall(calls, /^curl https:\/\/github.com\/actions\/runner\/releases\/download\/v2.329.0\/actions-runner-linux-x64-2.329.0.tar.gz/);
    const deps = indexOfCall(calls, /^bin\/installdependencies.sh/);
    const complete = indexOfCall(calls, /^aws autoscaling complete-lifecycle-action --auto-scaling-group-name linux-asg --lifecycle-hook-name github-runner-fleet-launch --instance-id i-0123456789abcdef0 --lifecycle-action-result CONTINUE/);
    expect([install, download, deps, complete].every((i) => i >= 0)).toBe(true);
    expect(install < download && download < deps && deps < complete).toBe(true);
    expect(calls.some((c) => c.includes('get-secret-value'))).toBe(false);
    expect(calls.some((c) => /run\.sh|config\.sh/.test(c))).toBe(false);
    expect(existsSync(`${box.root}/extra-ran`)).toBe(true);
    expect(readFileSync(`${box.root}/opt/actions-runner/.env`, 'utf8')).toContain('ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/runner-fleet/bin/job-started');
  });

  test('a second boot into service skips preparation', () => {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    box.states(['InService']);
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT-SECRET-VALUE' });
    const result = box.bootstrap();
    const installs = result.calls.filter((c) => c.startsWith('dnf install'));
    expect(installs).toHaveLength(1); // only from the first boot
  });

  test('ephemeral into service: waits for InService, reads its own secret, runs the JIT runner as runner, then replaces itself', () => {
    box.install(defaultOptions());
    box.states(['Pending:Wait', 'Pending:Wait', 'InService']);
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT-SECRET-VALUE' });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const states = calls.filter((c) => c.endsWith('autoscaling/target-lifecycle-state'));
    expect(states.length).toBeGreaterThanOrEqual(3);
    const read = indexOfCall(calls, new RegExp(`^aws secretsmanager get-secret-value --secret-id github-runner-fleet/linux/${INSTANCE_ID} `));
    const run = indexOfCall(calls, /^runuser -u runner -- \.\/run\.sh --jitconfig JIT-SECRET-VALUE$/);
    const terminate = indexOfCall(calls, new RegExp(`^aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${INSTANCE_ID} --no-should-decrement-desired-capacity$`));
    expect(read).toBeGreaterThan(indexOfCall(calls, /^dnf install/));
    expect(run).toBeGreaterThan(read);
    expect(terminate).toBeGreaterThan(run);
    expect(calls).toContain('iptables -A OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT');
    // The JIT configuration never reaches stdout, stderr or the log file.
    expect(result.output).not.toContain('JIT-SECRET-VALUE');
    expect(result.log).not.toContain('JIT-SECRET-VALUE');
    expect(result.log).toContain('starting the ephemeral runner');
  });

  test('persistent into service: config.sh with URL, token, name, labels and group, then run.sh', () => {
    box.install(defaultOptions({ mode: 'persistent', os: 'ubuntu' }));
    box.secret({
      mode: 'persistent',
      runnerName: `linux-${INSTANCE_ID}`,
      registrationToken: 'REG-SECRET-TOKEN',
      registrationUrl: 'https://github.com/acme',
      labels: 'linux,x64,fleet-linux',
      runnerGroupName: 'Builders',
    });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const config = indexOfCall(result.calls, new RegExp('^runuser -u runner -- ./config.sh --unattended --url https://github.com/acme --token REG-SECRET-TOKEN '
      + `--name linux-${INSTANCE_ID} --labels linux,x64,fleet-linux --work _work --replace --disableupdate --runnergroup Builders$`));
    const run = indexOfCall(result.calls, /^runuser -u runner -- \.\/run\.sh$/);
    expect(config).toBeGreaterThan(0);
    expect(run).toBeGreaterThan(config);
    expect(result.calls.some((c) => c.startsWith('apt-get install -y -q jq tar gzip git curl iptables docker.io'))).toBe(true);
    expect(result.calls.some((c) => c.startsWith('terminate-instance'))).toBe(false);
    expect(result.output + result.log).not.toContain('REG-SECRET-TOKEN');
  });

  test('a failed preparation abandons its own launch action and never starts the runner', () => {
    box.install(defaultOptions());
    box.flag('install-fails');
    box.secret({ mode: 'ephemeral', runnerName: 'x', jitConfig: 'JIT-SECRET-VALUE' });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.calls).toContain(`aws autoscaling complete-lifecycle-action --auto-scaling-group-name linux-asg --lifecycle-hook-name github-runner-fleet-launch --instance-id ${INSTANCE_ID} --lifecycle-action-result ABANDON`);
    expect(result.calls.some((c) => /run\.sh|get-secret-value/.test(c))).toBe(false);
    expect(result.log).toContain('bootstrap failed: preparation');
  });

  test('when there is no launch action left to abandon, the instance marks itself unhealthy', () => {
    box.install(defaultOptions());
    box.flag('install-fails');
    box.flag('complete-fails');
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    const abandon = indexOfCall(result.calls, /complete-lifecycle-action .* ABANDON$/);
    const unhealthy = indexOfCall(result.calls, new RegExp(`^aws autoscaling set-instance-health --instance-id ${INSTANCE_ID} --health-status Unhealthy$`));
    expect(abandon).toBeGreaterThan(0);
    expect(unhealthy).toBeGreaterThan(abandon);
  });

  test('never in service within the timeout: abandons', () => {
    box.install(defaultOptions({ inServiceTimeoutSeconds: 1 }));
    box.states(['Pending:Wait']);
    const result = box.run(`${box.root}/opt/runner-fleet/bin/bootstrap`);
    expect(result.status).not.toBe(0);
    expect(result.calls.some((c) => /ABANDON$/.test(c))).toBe(true);
    expect(result.calls.some((c) => c.includes('get-secret-value'))).toBe(false);
  });

  test('the job hooks: protect on before a job; persistent runners lift it after', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap(); // caches the identity
    const on = box.run(`${box.root}/opt/runner-fleet/bin/protect`, ['on']);
    const off = box.run(`${box.root}/opt/runner-fleet/bin/protect`, ['off']);
    expect(on.status).toBe(0);
    expect(off.calls).toContain(`aws autoscaling set-instance-protection --instance-ids ${INSTANCE_ID} --auto-scaling-group-name linux-asg --protected-from-scale-in`);
    expect(off.calls).toContain(`aws autoscaling set-instance-protection --instance-ids ${INSTANCE_ID} --auto-scaling-group-name linux-asg --no-protected-from-scale-in`);
    expect(box.run(`${box.root}/opt/runner-fleet/bin/protect`, ['sideways']).status).toBe(2);
    const files = bootstrapFiles(defaultOptions({ mode: 'persistent' }));
    expect(files.find((f) => f.path.endsWith('job-started'))!.content).toContain('sudo -n /opt/runner-fleet/bin/protect on');
    expect(files.find((f) => f.path.endsWith('job-completed'))!.content).toContain('sudo -n /opt/runner-fleet/bin/protect off');
    expect(bootstrapFiles(defaultOptions()).find((f) => f.path.endsWith('job-completed'))!.content).not.toContain('protect off');
    expect(readFileSync(`${box.root}/etc/sudoers.d/runner-fleet`, 'utf8'))
      .toBe('runner ALL=(root) NOPASSWD: /opt/runner-fleet/bin/protect on, /opt/runner-fleet/bin/protect off\n');
  });
});

describe('retirement: the instance stops its own runner only when no job runs', () => {
  let box: Sandbox;
  beforeEach(() => {
    box = new Sandbox();
  });
  afterEach(() => box.cleanup());

  const TERMINATE = new RegExp(`^aws autoscaling complete-lifecycle-action --auto-scaling-group-name linux-asg --lifecycle-hook-name github-runner-fleet-terminate --instance-id ${INSTANCE_ID} --lifecycle-action-result CONTINUE$`);

  function persistent(): void {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.secret({ mode: 'persistent', runnerName: `linux-${INSTANCE_ID}`, registrationToken: 'T', registrationUrl: 'https://github.com/acme', labels: 'linux' });
  }

  test('scale-in of an idle runner: the listener is stopped under the job lock, then the instance completes its terminate action', () => {
    persistent();
    box.flag('listen');
    // The bootstrap reads the target state three times before the runner starts; the watcher then reads it.
    box.states(['InService', 'InService', 'InService', 'InService', 'Terminated']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const check = indexOfCall(calls, /^pgrep -u runner -f Runner\.Worker$/);
    const stop = indexOfCall(calls, /^pkill -INT -u runner -f Runner\.Listener$/);
    const complete = indexOfCall(calls, TERMINATE);
    expect(check).toBeGreaterThan(indexOfCall(calls, /run\.sh/));
    expect(stop).toBeGreaterThan(check);
    expect(complete).toBeGreaterThan(indexOfCall(calls, /^listener stopped$/));
    expect(result.log).toContain('target Terminated: the runner was idle and is stopping');
  });

  test('scale-in arriving during a job: the runner is stopped only after the job, whatever GitHub says', () => {
    persistent();
    box.flag('listen');
    box.job(1);
    box.states(['InService', 'InService', 'InService', 'Terminated']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const done = indexOfCall(calls, /^job steps done$/);
    const stop = indexOfCall(calls, /^pkill /);
    expect(done).toBeGreaterThan(0);
    expect(stop).toBeGreaterThan(done);
    // The retirement check ran (and declined) while the job ran.
    const checksDuringJob = calls.slice(indexOfCall(calls, /^job steps running$/), done).filter((c) => c.startsWith('pgrep') || c.endsWith('target-lifecycle-state'));
    expect(checksDuringJob.length).toBeGreaterThan(0);
    expect(indexOfCall(calls, TERMINATE)).toBeGreaterThan(stop);
    // While the job ran, the instance held its own terminate action.
    const beat = indexOfCall(calls, new RegExp(`^aws autoscaling record-lifecycle-action-heartbeat --auto-scaling-group-name linux-asg --lifecycle-hook-name github-runner-fleet-terminate --instance-id ${INSTANCE_ID}$`));
    expect(beat).toBeGreaterThan(indexOfCall(calls, /^job steps running$/));
    expect(beat).toBeLessThan(done);
  });

  test('a job already handed to the runner (its worker exists) before the job-started hook: not stopped', () => {
    persistent();
    box.flag('listen');
    box.job(0.6);
    box.states(['InService', 'InService', 'InService', 'Terminated']);
    const result = box.bootstrap();
    const calls = result.calls;
    expect(indexOfCall(calls, /^pkill /)).toBeGreaterThan(indexOfCall(calls, /^job steps done$/));
  });

  test('back to the warm pool (Warmed:Stopped) while idle: the same retirement', () => {
    persistent();
    box.flag('listen');
    box.states(['InService', 'InService', 'InService', 'Warmed:Pending:Wait']);
    const result = box.bootstrap();
    expect(result.calls.some((c) => TERMINATE.test(c))).toBe(true);
    expect(indexOfCall(result.calls, /^pkill /)).toBeGreaterThan(indexOfCall(result.calls, /^runuser -u runner -- \.\/run\.sh$/));
    expect(result.log).toContain('target Warmed:Pending:Wait: the runner was idle and is stopping');
  });

  test('a spot interruption notice: the idle runner stops taking jobs at once, while the instance is still in service', () => {
    persistent();
    box.flag('listen');
    box.flag('spot');
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(indexOfCall(result.calls, /^pkill -INT -u runner -f Runner\.Listener$/)).toBeGreaterThan(indexOfCall(result.calls, /spot\/instance-action$/));
    expect(result.log).toContain('spot interruption notice: the runner takes no new job');
  });

  test('a spot interruption notice during a job: the job is left to finish (or to the reclaim)', () => {
    persistent();
    box.flag('listen');
    box.flag('spot');
    box.job(0.5);
    const result = box.bootstrap();
    expect(indexOfCall(result.calls, /^pkill /)).toBeGreaterThan(indexOfCall(result.calls, /^job steps done$/));
  });

  test('the group wants the instance gone before its runner starts: it leaves without starting the runner', () => {
    persistent();
    box.states(['InService', 'InService', 'Terminated']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => /run\.sh/.test(c))).toBe(false);
    expect(result.calls.some((c) => TERMINATE.test(c))).toBe(true);
  });

  test('ephemeral: after its one job the instance replaces itself; nothing retires a runner in service', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT' });
    box.job(0.3);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => c.startsWith('pkill'))).toBe(false);
    expect(indexOfCall(result.calls, /terminate-instance-in-auto-scaling-group/)).toBeGreaterThan(indexOfCall(result.calls, /^job steps done$/));
  });

  test('the job hooks set and clear the busy marker under the lock, and protect the instance', () => {
    persistent();
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    mkdirSync(`${box.root}/run/runner-fleet`, { recursive: true });
    const started = box.run(`${box.root}/opt/runner-fleet/bin/job-started`);
    expect(started.status).toBe(0);
    expect(existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(true);
    expect(started.calls).toContain('sudo -n /opt/runner-fleet/bin/protect on');
    box.run(`${box.root}/opt/runner-fleet/bin/job-completed`);
    expect(existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(false);
  });

  test('the job-started hook waits for the lock the retirement check holds', () => {
    persistent();
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    mkdirSync(`${box.root}/run/runner-fleet`, { recursive: true });
    const lock = `${box.root}/run/runner-fleet/job.lock`;
    // Hold the lock for 0.5 s in the background, as retire_if_idle does while it decides.
    const acquired = `${box.dir}/acquired`;
    const holder = spawn('flock', [lock, 'bash', '-c', `touch ${acquired}; sleep 0.5`]);
    while (!existsSync(acquired)) {
      execFileSync('sleep', ['0.01']);
    }
    const begin = Date.now();
    box.run(`${box.root}/opt/runner-fleet/bin/job-started`);
    // It could mark the instance busy only once the lock was free again.
    expect(Date.now() - begin).toBeGreaterThanOrEqual(300);
    expect(existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(true);
    holder.kill();
  });
});
