import { execFileSync, spawn } from 'child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import fc from 'fast-check';
import { bashSyntax, defaultOptions, indexOfCall, INSTANCE_ID, lockWaiters, Sandbox, shellcheck, until } from './harness';
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

  const LEAVE = `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${INSTANCE_ID} --should-decrement-desired-capacity`;
  const REPLACE = `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${INSTANCE_ID} --no-should-decrement-desired-capacity`;

  test('ephemeral into service: waits for InService, reads its own secret, runs the JIT runner as runner; after its job the group shrinks by one', () => {
    box.install(defaultOptions());
    box.states(['Pending:Wait', 'Pending:Wait', 'InService']);
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT-SECRET-VALUE' });
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const states = calls.filter((c) => c.endsWith('autoscaling/target-lifecycle-state'));
    expect(states.length).toBeGreaterThanOrEqual(3);
    const read = indexOfCall(calls, new RegExp(`^aws secretsmanager get-secret-value --secret-id github-runner-fleet/linux/${INSTANCE_ID} `));
    const run = indexOfCall(calls, /^runuser -u runner -- \.\/run\.sh --jitconfig JIT-SECRET-VALUE$/);
    const terminate = calls.indexOf(LEAVE);
    expect(read).toBeGreaterThan(indexOfCall(calls, /^dnf install/));
    expect(run).toBeGreaterThan(read);
    expect(terminate).toBeGreaterThan(indexOfCall(calls, /^job steps done$/));
    // The group does not launch a replacement by itself: the capacity controller decides.
    expect(calls).not.toContain(REPLACE);
    expect(result.log).toContain('after its job: leaving');
    expect(result.log).toContain('terminating, the group shrinks by one');
    expect(calls).toContain('iptables -A OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT');
    // The JIT configuration never reaches stdout, stderr or the log file.
    expect(result.output).not.toContain('JIT-SECRET-VALUE');
    expect(result.log).not.toContain('JIT-SECRET-VALUE');
    expect(result.log).toContain('starting the ephemeral runner');
  });

  test('ephemeral, the group at its minimum size refuses to shrink: the instance leaves with a replacement instead', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT' });
    box.job();
    box.awsFails('--should-decrement-desired-capacity');
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const leave = result.calls.indexOf(LEAVE);
    expect(leave).toBeGreaterThan(indexOfCall(result.calls, /^job steps done$/));
    expect(result.calls.indexOf(REPLACE)).toBeGreaterThan(leave);
    expect(result.output).toContain('ValidationError');
    expect(result.log).toContain('the group did not shrink (at its minimum size?): terminating with a replacement instead');
    expect(result.log).toContain('terminating, the group launches a replacement');
    expect(result.log).not.toContain('the group shrinks by one');
  });

  test('ephemeral runner that exits before taking a job: replaced, the desired capacity unchanged', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT' });
    const result = box.bootstrap(); // the stub runner exits at once, without a job
    expect(result.status).toBe(0);
    expect(result.calls.filter((c) => c.includes('terminate-instance-in-auto-scaling-group'))).toEqual([REPLACE]);
    expect(result.log).toContain('before taking a job: replacing this instance');
  });

  test('ephemeral, neither terminate call succeeds: the bootstrap fails (and systemd runs it again)', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT' });
    box.job();
    box.awsFails('terminate-instance-in-auto-scaling-group');
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.calls.filter((c) => c.includes('terminate-instance-in-auto-scaling-group'))).toEqual([LEAVE, REPLACE]);
    expect(result.log).toContain('could not terminate this instance');
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
    expect(result.calls.some((c) => c.includes('terminate-instance-in-auto-scaling-group'))).toBe(false);
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

  // Each target state below comes with an event of the runner (see the harness), never after a number of
  // reads or a delay: the retirement check sees it while the runner is in the state the test is about.

  test('scale-in of an idle runner: the listener is stopped under the job lock, then the instance completes its terminate action', () => {
    persistent();
    box.flag('listen');
    box.states(['InService', 'Terminated when listening']);
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
    // The job's steps end only after the check has seen Terminated and held the terminate action.
    box.job({ doneAfter: 'aws-record-lifecycle-action-heartbeat' });
    box.states(['InService', 'Terminated when job-running']);
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
    // The hook runs only after the check has seen Terminated with the worker and no busy marker, and
    // has held the terminate action instead of stopping the runner.
    box.job({ hookAfter: 'aws-record-lifecycle-action-heartbeat' });
    box.states(['InService', 'Terminated when worker']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const hook = calls.indexOf('sudo -n /opt/runner-fleet/bin/protect on');
    const beat = indexOfCall(calls, /^aws autoscaling record-lifecycle-action-heartbeat /);
    expect(beat).toBeGreaterThan(indexOfCall(calls, /^pgrep -u runner -f Runner\.Worker$/));
    expect(hook).toBeGreaterThan(beat);
    expect(indexOfCall(calls, /^pkill /)).toBeGreaterThan(indexOfCall(calls, /^job steps done$/));
    expect(calls).not.toContain('stub: gave up waiting for aws-record-lifecycle-action-heartbeat');
  });

  test('back to the warm pool (Warmed:Stopped) while idle: the same retirement', () => {
    persistent();
    box.flag('listen');
    box.states(['InService', 'Warmed:Pending:Wait when listening']);
    const result = box.bootstrap();
    expect(result.calls.some((c) => TERMINATE.test(c))).toBe(true);
    expect(indexOfCall(result.calls, /^pkill /)).toBeGreaterThan(indexOfCall(result.calls, /^runuser -u runner -- \.\/run\.sh$/));
    expect(result.log).toContain('target Warmed:Pending:Wait: the runner was idle and is stopping');
  });

  test('a spot interruption notice: the idle runner stops taking jobs at once, while the instance is still in service', () => {
    persistent();
    box.flag('listen');
    box.spotNotice('listening');
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(indexOfCall(result.calls, /^pkill -INT -u runner -f Runner\.Listener$/)).toBeGreaterThan(indexOfCall(result.calls, /spot\/instance-action$/));
    expect(result.log).toContain('spot interruption notice: the runner takes no new job');
  });

  test('a spot interruption notice during a job: the job is left to finish (or to the reclaim)', () => {
    persistent();
    box.flag('listen');
    box.spotNotice('job-running');
    box.job({ doneAfter: 'aws-record-lifecycle-action-heartbeat' });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const done = indexOfCall(calls, /^job steps done$/);
    expect(indexOfCall(calls, /^aws autoscaling record-lifecycle-action-heartbeat /)).toBeLessThan(done);
    expect(indexOfCall(calls, /^pkill /)).toBeGreaterThan(done);
  });

  test('the group wants the instance gone before its runner starts: it leaves without starting the runner', () => {
    persistent();
    box.states(['InService', 'InService', 'Terminated']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => /run\.sh/.test(c))).toBe(false);
    expect(result.calls.some((c) => TERMINATE.test(c))).toBe(true);
  });

  test('ephemeral: after its one job the instance leaves and the group shrinks by one; nothing retires a runner in service', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: 'JIT' });
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => c.startsWith('pkill'))).toBe(false);
    expect(indexOfCall(result.calls, /terminate-instance-in-auto-scaling-group .* --should-decrement-desired-capacity$/))
      .toBeGreaterThan(indexOfCall(result.calls, /^job steps done$/));
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
    // That a job was taken outlasts the job: an ephemeral instance then leaves without a replacement.
    expect(existsSync(`${box.root}/run/runner-fleet/took-job`)).toBe(true);
  });

  test('the job-started hook waits for the lock the retirement check holds', async () => {
    persistent();
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    mkdirSync(`${box.root}/run/runner-fleet`, { recursive: true });
    const lock = `${box.root}/run/runner-fleet/job.lock`;
    const busy = `${box.root}/run/runner-fleet/busy`;
    const acquired = `${box.dir}/acquired`;
    const release = `${box.dir}/release`;
    writeFileSync(lock, '');
    // Hold the lock, as retire_if_idle does while it decides, until the test releases it (the loop's
    // bound is only a hang guard).
    const holder = spawn('flock', [lock, 'bash', '-c',
      `touch ${acquired}; for _ in $(seq 1 2000); do [ -e ${release} ] && exit 0; sleep 0.01; done; exit 1`]);
    try {
      await until(() => existsSync(acquired), 'the lock holder');
      const hook = box.start(`${box.root}/opt/runner-fleet/bin/job-started`);
      let hookExited = false;
      void hook.exited.then(() => (hookExited = true));
      // The kernel shows the hook's request blocked on the lock: it cannot mark the instance busy now.
      await until(() => hookExited || lockWaiters(lock) > 0, 'the hook to block on the lock (or to exit)');
      expect(hookExited).toBe(false);
      expect(existsSync(busy)).toBe(false);
      writeFileSync(release, '');
      const result = await hook.exited;
      // It marked the instance busy once the lock was free again.
      expect(result.status).toBe(0);
      expect(existsSync(busy)).toBe(true);
    } finally {
      writeFileSync(release, '');
      holder.kill();
    }
  });
});
