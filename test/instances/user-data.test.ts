import { execFileSync, spawn, spawnSync } from 'child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'fs';
import * as path from 'path';
import { Lazy } from 'aws-cdk-lib';
import fc from 'fast-check';
import {
  agentCall, bashSyntax, CREDENTIALS, defaultOptions, encodeJit, indexOfCall, INSTANCE_ID, JIT, JIT_FILES, lockWaiters, REGISTRATION_SECRETS,
  RUNNING_AS_ROOT, Sandbox, sha256, shellcheck, UNPRIVILEGED_UID, until,
} from './harness';
import { INSTANCE_PROGRAMS, programsDigest, servedPrograms, ServedPrograms } from '../../src/contract/instance-programs';
import { shellQuote } from '../../src/instances/shell';
import {
  bootstrapFiles, INSTANCE_ASSETS_DIR, instanceAsset, programInstaller, programInstallerSha256, renderConfigEnv, renderUserData,
  runnerDownloadUrl, USER_DATA_LIMIT_BYTES, userDataBytes, userDataSizeProblem,
} from '../../src/instances/user-data';

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

// The agent requests the programs make, as the stub records them (signed, with the role's credentials).
const WHOAMI = agentCall({ action: 'whoami' });
const LEAVE_AFTER_JOB = agentCall({ action: 'leave', after: 'job' });
const LEAVE_AFTER_FAILURE = agentCall({ action: 'leave', after: 'failure' });
const PROTECT_ON = agentCall({ action: 'protect', protected: true });
const PROTECT_OFF = agentCall({ action: 'protect', protected: false });
const HEARTBEAT = agentCall({ action: 'heartbeat', hook: 'terminate' });
const UNHEALTHY = agentCall({ action: 'unhealthy' });
const complete = (hook: 'launch' | 'terminate', result: 'CONTINUE' | 'ABANDON'): string => agentCall({ action: 'complete', hook, result });
const leaveCalls = (calls: string[]): string[] => calls.filter((c) => c.startsWith('agent ') && c.includes('"action":"leave"'));

const JOB_EVENT_STARTED = 'sudo -n /opt/runner-fleet/bin/job-event started';
const JOB_EVENT_FINISHED = 'sudo -n /opt/runner-fleet/bin/job-event finished';
const SUDOERS = [
  'Defaults:runner env_reset, secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
  'runner ALL=(root) NOPASSWD: /opt/runner-fleet/bin/job-event started, /opt/runner-fleet/bin/job-event finished',
  '',
].join('\n');

/** The texts that contain a credential of the instance role. */
function leaks(texts: string[]): string[] {
  return texts.filter((t) => [CREDENTIALS.AccessKeyId, CREDENTIALS.SecretAccessKey, CREDENTIALS.Token].some((secret) => t.includes(secret)));
}

/**
 * Where the registration material (JIT configuration, runner credentials, registration token) shows up
 * although it must not: any command line (stubs, curl, every recorded command), the log, the given
 * output, or the environment of run.sh (which its jobs inherit).
 */
function registrationLeaks(box: Sandbox, output = ''): string[] {
  const { calls, argv, exec, log } = box.recorded();
  const runEnv = readFileSync(`${box.dir}/stub/runner-env`, 'utf8').split('\n').filter((l) => l.startsWith('run.sh '));
  return [...[...calls, ...argv, ...exec, log, output].filter((t) => REGISTRATION_SECRETS.some((secret) => t.includes(secret))), ...runEnv];
}

/**
 * A fresh sandbox for each test of the enclosing describe (handed to `use`), checked after the test (no
 * Auto Scaling call, no credential recorded or logged, then `check`) and removed.
 */
function sandboxPerTest(use: (box: Sandbox) => void, check: (box: Sandbox) => void = () => undefined): void {
  let box: Sandbox;
  beforeEach(() => {
    box = new Sandbox();
    use(box);
  });
  afterEach(() => {
    try {
      assertNoAutoScalingCallNorCredential(box);
      check(box);
    } finally {
      box.cleanup();
    }
  });
}

/** Run after every program run of a test (the user data's too): no Auto Scaling CLI call, no credential recorded or logged. */
function assertNoAutoScalingCallNorCredential(box: Sandbox): void {
  const { calls, argv, log } = box.recorded({ withUserData: true });
  expect(calls.filter((c) => /^aws autoscaling\b/.test(c))).toEqual([]);
  expect(leaks([...calls, ...argv, log])).toEqual([]);
}

describe('rendered user data: static checks', () => {
  test.each(variants.map((v, i) => [i, `${v.os} ${v.architecture} ${v.mode} docker=${v.installDocker} block=${v.blockJobMetadataAccess}`, v]))(
    'variant %d (%s): bash -n and shellcheck are clean for the user data and every script it installs', (_i, _name, options) => {
      const userData = renderUserData(options);
      expect(bashSyntax(userData)).toBe('');
      expect(shellcheck(userData)).toBe('');
      expect(bashSyntax(programInstaller())).toBe('');
      expect(shellcheck(programInstaller())).toBe('');
      for (const file of bootstrapFiles(options).filter((f) => !f.path.endsWith('.service'))) {
        expect({ file: file.path, syntax: bashSyntax(file.content) }).toEqual({ file: file.path, syntax: '' });
        expect({ file: file.path, findings: shellcheck(file.content) }).toEqual({ file: file.path, findings: '' });
      }
    });

  test.each(variants.map((v, i) => [i, v]))('variant %d: no program calls the Auto Scaling API itself; the only AWS CLI calls read and delete its secret', (_i, options) => {
    // The user data and the program installer the agent serves it.
    const userData = `${renderUserData(options)}\n${programInstaller()}`;
    expect(userData).not.toMatch(/autoscaling\s+[a-z-]+/);
    // Every command word "aws" (not inside another word, e.g. aws-cli or aws:amz) is followed by secretsmanager.
    const awsCommands = userData.split('\n').flatMap((line) => [...line.matchAll(/(?:^|[\s;&|(])aws\s+([a-z0-9-]+)/g)].map((m) => m[1]));
    expect(awsCommands.length).toBeGreaterThan(0);
    expect(new Set(awsCommands)).toEqual(new Set(['secretsmanager']));
    const secretCalls = userData.split('\n').flatMap((line) => [...line.matchAll(/aws\s+secretsmanager\s+([a-z-]+)/g)].map((m) => m[1]));
    expect(new Set(secretCalls)).toEqual(new Set(['get-secret-value', 'delete-secret']));
  });

  test('shellcheck is clean for the real program files, read as they are', () => {
    const files = readdirSync(INSTANCE_ASSETS_DIR).filter((f) => f.endsWith('.sh'));
    expect(files.sort()).toEqual(['bootstrap.sh', 'fetch-programs.sh', 'job-completed.sh', 'job-event.sh', 'job-started.sh', 'lib.sh']);
    for (const file of files) {
      const result = spawnSync('shellcheck', ['-s', 'bash', '-S', 'warning', path.join(INSTANCE_ASSETS_DIR, file)], { encoding: 'utf8' });
      expect({ file, findings: `${result.stdout}${result.stderr}`, status: result.status }).toEqual({ file, findings: '', status: 0 });
    }
  });

  test('an instance gets each program file verbatim; only config.env (and the extra commands) are generated', () => {
    const options = defaultOptions({ extraCommands: ['true'] });
    const files = bootstrapFiles(options);
    for (const program of INSTANCE_PROGRAMS) {
      expect(files.find((f) => f.path === program.path)?.content).toBe(readFileSync(path.join(INSTANCE_ASSETS_DIR, program.asset), 'utf8'));
    }
    expect(files.map((f) => f.path).filter((p) => !INSTANCE_PROGRAMS.some((program) => program.path === p)).sort())
      .toEqual(['/etc/runner-fleet/config.env', '/opt/runner-fleet/bin/prepare-extra']);
  });

  test.each(variants.map((v, i) => [i, v]))('variant %d: the user data carries no program, only the settings, the programs\' pinned SHA-256 and their fetching', (_i, options) => {
    const userData = renderUserData(options);
    // At most half of EC2's 16 KB: the rest is the user's extra commands'.
    expect(userDataBytes(userData)).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES / 2);
    for (const program of INSTANCE_PROGRAMS) {
      const inUserData = userData.includes(instanceAsset(program.asset).trim());
      expect({ program: program.asset, inUserData }).toEqual({ program: program.asset, inUserData: false });
    }
    // The files it writes itself: the settings (and the extra commands) only.
    const written = [...userData.matchAll(/^cat >"\$ROOT(\S+)" <</gm)].map((m) => m[1]);
    expect(written).toEqual(options.extraCommands.length > 0 ? ['/etc/runner-fleet/config.env', '/opt/runner-fleet/bin/prepare-extra'] : ['/etc/runner-fleet/config.env']);
    expect(userData).toContain(instanceAsset('fetch-programs.sh').split('\n').slice(1).join('\n').replace(/\n$/, ''));
    // One interpreter line: the user data's (and the extra commands' script's, which it writes).
    expect(userData.match(/^#!/gm)).toHaveLength(options.extraCommands.length > 0 ? 2 : 1);
    // The digest pinned is the installer's, the same whatever the fleet's settings.
    expect(renderConfigEnv(options)).toContain(`\nRF_PROGRAMS_SHA256=${programsDigest(programInstaller())}\n`);
    expect(programInstallerSha256()).toMatch(/^[0-9a-f]{64}$/);
  });

  test('the agent serves the installer the user data pins, built from the same files', () => {
    const served = servedPrograms(instanceAsset);
    expect(Buffer.from(served.installer, 'base64').toString('utf8')).toBe(programInstaller());
    expect(served.sha256).toBe(programInstallerSha256());
    // Any change to any program changes the digest.
    for (const program of INSTANCE_PROGRAMS) {
      const changed = servedPrograms((asset) => asset === program.asset ? `${instanceAsset(asset)}# changed\n` : instanceAsset(asset));
      expect({ program: program.asset, same: changed.sha256 === served.sha256 }).toEqual({ program: program.asset, same: false });
    }
  });

  test('extra commands that would take the user data over 16 KB are named, with the limit, the figures and the fix', () => {
    const long = Array.from({ length: 200 }, (_, i) => `echo ${'x'.repeat(60)} ${i}`);
    const problem = userDataSizeProblem(renderUserData(defaultOptions({ extraCommands: long })), long);
    expect(problem).toMatch(/^the user data would be about \d+ bytes, above EC2's limit of 16384 bytes \(extraCommands take \d+ of them\): move long extraCommands into a script your instances download, or into the machine image \(machineImage\)$/);
    const short = long.slice(0, 10);
    expect(userDataSizeProblem(renderUserData(defaultOptions({ extraCommands: short })), short)).toBeUndefined();
  });

  test('a deploy-time value counts at its assumed maximum in the size estimate', () => {
    const literal = renderUserData(defaultOptions({ agentUrl: 'https://a.example/' }));
    const token = Lazy.string({ produce: () => 'https://a.example/' });
    const withToken = renderUserData(defaultOptions({ agentUrl: token }));
    expect(userDataBytes(literal)).toBe(Buffer.byteLength(literal, 'utf8'));
    // The token is shell-quoted where the literal needs no quotes: 2 bytes more.
    expect(userDataBytes(withToken)).toBe(Buffer.byteLength(literal, 'utf8') - 'https://a.example/'.length + 128 + 2);
  });

  test('config.env carries the tarball\'s SHA-256 (lower case) and the mirror\'s URL when one is given', () => {
    const digest = sha256('x').toUpperCase();
    const env = renderConfigEnv(defaultOptions({ runnerSha256: digest, runnerDownloadBaseUrl: 'https://mirror.example/runner/' }));
    expect(env).toContain(`\nRF_RUNNER_SHA256=${digest.toLowerCase()}\n`);
    expect(env).toContain('\nRF_RUNNER_URL=https://mirror.example/runner/v2.329.0/actions-runner-linux-x64-2.329.0.tar.gz\n');
  });

  test('the runner tarball follows the architecture and version', () => {
    expect(runnerDownloadUrl(defaultOptions({ architecture: 'arm64', runnerVersion: '2.330.1' })))
      .toBe('https://github.com/actions/runner/releases/download/v2.330.1/actions-runner-linux-arm64-2.330.1.tar.gz');
  });

  test('the agent URL reaches config.env, quoted; a token is accepted as is and resolved at deployment', () => {
    expect(renderConfigEnv(defaultOptions({ agentUrl: 'https://abc.lambda-url.eu-west-1.on.aws/' }))).toContain('\nRF_AGENT_URL=https://abc.lambda-url.eu-west-1.on.aws/\n');
    const token = Lazy.string({ produce: () => 'https://abc.lambda-url.eu-west-1.on.aws/' });
    expect(renderUserData(defaultOptions({ agentUrl: token }))).toContain(`\nRF_AGENT_URL=${shellQuote(token)}\n`);
  });

  test.each([
    [{ runnerVersion: 'latest' }, 'runnerVersion ("latest") is not a version'],
    [{ secretPrefix: '' }, 'secretPrefix ("") must be a Secrets Manager name prefix ending with "/"'],
    [{ secretPrefix: 'no-slash' }, 'secretPrefix ("no-slash")'],
    [{ extraPackages: ['ok', 'bad;rm -rf /'] }, 'extraPackages contains "bad;rm -rf /"'],
    [{ inServiceTimeoutSeconds: 0 }, 'inServiceTimeoutSeconds (0)'],
    [{ runnerDownloadBaseUrl: 'http://mirror' }, 'runnerDownloadBaseUrl ("http://mirror") must be an https URL'],
    [{ runnerSha256: 'abc' }, 'runnerSha256 ("abc") is not a SHA-256 digest: give the 64 hexadecimal digits the release page shows for actions-runner-linux-x64-2.329.0.tar.gz'],
    [{ runnerSha256: `${'g'.repeat(64)}` }, 'is not a SHA-256 digest'],
    [{ agentUrl: undefined }, "agentUrl is missing: the instances make every Auto Scaling call through the control plane's instance agent"],
    [{ agentUrl: '' }, 'agentUrl is missing'],
    [{ agentUrl: 'http://agent.example/' }, 'agentUrl ("http://agent.example/") must be an https URL'],
    [{ agentUrl: "https://x/'; reboot" }, 'must be an https URL'],
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
  let box!: Sandbox;
  sandboxPerTest((b) => (box = b));

  const SYSTEMD = ['systemctl daemon-reload', 'systemctl enable runner-fleet.service', 'systemctl start --no-block runner-fleet.service'];
  const PROGRAMS = agentCall({ action: 'programs' });
  const installed = (root: string): string[] => INSTANCE_PROGRAMS.filter((p) => existsSync(path.join(root, p.path))).map((p) => p.asset);

  test('user data fetches the programs from the agent (signed), installs them as the pinned SHA-256 says, and enables the unit that runs them at every boot', () => {
    const result = box.install(defaultOptions());
    expect(result.status).toBe(0);
    expect(result.calls.filter((c) => !c.startsWith('curl http://169.254.169.254/'))).toEqual([PROGRAMS, ...SYSTEMD]);
    for (const program of INSTANCE_PROGRAMS) {
      const file = path.join(result.root, program.path);
      expect({ program: program.asset, content: readFileSync(file, 'utf8'), mode: (statSync(file).mode % 0o1000).toString(8) })
        .toEqual({ program: program.asset, content: instanceAsset(program.asset), mode: program.mode.slice(1) });
    }
    expect(result.log).toContain(`runner-fleet user data: programs ${programInstallerSha256()} installed`);
    // The credentials reached curl on its standard input only.
    expect(result.argv.filter((a) => a.includes('--aws-sigv4'))).toEqual([
      expect.stringMatching(/^-q -sS --connect-timeout 5 --max-time 30 -K - --aws-sigv4 aws:amz:eu-west-1:lambda -H content-type: application\/json --data-binary \{"action":"programs"\} /),
    ]);
    expect(leaks([...result.calls, ...result.argv, ...result.exec, result.log, result.output])).toEqual([]);
  });

  test('programs of another SHA-256 than the pinned one: nothing installed nor run, the launch abandoned, both digests and the fix said', () => {
    // What an agent of another release (or anyone else) would serve: an installer that runs something.
    const other = '#!/bin/bash\ntouch "$RUNNER_FLEET_ROOT/ran"\n';
    box.servePrograms({ sha256: programsDigest(other), installer: Buffer.from(other).toString('base64') });
    const result = box.install(defaultOptions());
    expect(result.status).not.toBe(0);
    expect(existsSync(path.join(result.root, 'ran'))).toBe(false);
    expect(installed(result.root)).toEqual([]);
    expect(result.calls.filter((c) => !c.startsWith('curl http://169.254.169.254/'))).toEqual([PROGRAMS, complete('launch', 'ABANDON')]);
    expect(result.log).toContain(`the instance agent serves programs with SHA-256 ${programsDigest(other)}, and this fleet's launch template pins `
      + `${programInstallerSha256()}: deploy the control plane and this fleet from the same version of cdk-github-runner-fleet: abandoning the launch`);
    expect(result.output).toContain('abandoning the launch');
  });

  test('an answer without an installer: nothing installed, the launch abandoned', () => {
    box.servePrograms({ sha256: programInstallerSha256() } as ServedPrograms);
    const result = box.install(defaultOptions());
    expect(result.status).not.toBe(0);
    expect(installed(result.root)).toEqual([]);
    expect(result.log).toContain("the instance agent's answer carries no installer: abandoning the launch");
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
  });

  test('the agent failing at first (503, 403 for a fleet it does not know yet, no connection) is tried again, then the programs are installed', () => {
    box.agentAnswers({ action: 'programs' }, { status: 503, once: true });
    box.agentAnswers({ action: 'programs' }, { status: 403, message: 'not an instance of any fleet', once: true });
    box.agentAnswers({ action: 'programs' }, { status: 0, once: true });
    const result = box.install(defaultOptions());
    expect(result.status).toBe(0);
    expect(result.calls.filter((c) => c.startsWith('agent '))).toEqual([PROGRAMS, PROGRAMS, PROGRAMS, PROGRAMS]);
    expect(installed(result.root)).toEqual(INSTANCE_PROGRAMS.map((p) => p.asset));
    expect(result.log).toContain('the instance agent did not serve the programs (status 503), trying again');
    expect(result.log).toContain('the instance agent did not serve the programs (status 403), trying again');
  });

  test('an agent that never serves them: after the last attempt, nothing installed and the launch abandoned', () => {
    box.extraEnv.RUNNER_FLEET_FETCH_ATTEMPTS = '3';
    box.agentAnswers({ action: 'programs' }, { status: 500 });
    const result = box.install(defaultOptions());
    expect(result.status).not.toBe(0);
    expect(result.calls.filter((c) => c.startsWith('agent '))).toEqual([PROGRAMS, PROGRAMS, PROGRAMS, complete('launch', 'ABANDON')]);
    expect(installed(result.root)).toEqual([]);
    expect(result.calls).not.toContain(SYSTEMD[0]);
    expect(result.log).toContain('the instance agent did not serve the programs after 3 attempts (last status 500): abandoning the launch');
  });

  test('malformed credentials from the metadata service never reach curl from the user data either', () => {
    writeFileSync(`${box.stub}/credentials.sh`, `${String.raw`ACCESS_KEY_ID='AKID\"\nurl = \"https://elsewhere'`}\nSECRET_ACCESS_KEY=S\nSESSION_TOKEN=T\n`);
    box.extraEnv.RUNNER_FLEET_FETCH_ATTEMPTS = '2';
    const result = box.install(defaultOptions());
    expect(result.status).not.toBe(0);
    expect(result.argv.filter((a) => a.includes('--aws-sigv4'))).toEqual([]);
    expect(result.log).toContain("the instance role's credentials are missing or malformed");
    expect(installed(result.root)).toEqual([]);
  });

  test('warm-pool launch: asks the agent who it is, prepares, completes its own launch action with CONTINUE, is not registered', () => {
    box.install(defaultOptions({ extraCommands: ['echo extra >"$RUNNER_FLEET_ROOT/extra-ran"'] }));
    box.states(['Warmed:Pending:Wait']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const whoami = calls.indexOf(WHOAMI);
    const install = indexOfCall(calls, /^dnf install -y -q jq tar gzip git iptables-nft docker/);
    const download = indexOfCall(calls, /^curl https:\/\/github.com\/actions\/runner\/releases\/download\/v2.329.0\/actions-runner-linux-x64-2.329.0.tar.gz/);
    const deps = indexOfCall(calls, /^bin\/installdependencies.sh/);
    const done = calls.indexOf(complete('launch', 'CONTINUE'));
    expect([whoami, install, download, deps, done].every((i) => i >= 0)).toBe(true);
    expect(whoami < install && install < download && download < deps && deps < done).toBe(true);
    expect(result.log).toContain(`boot of ${INSTANCE_ID} in linux-asg`);
    expect(result.log).toContain('completed the launch action');
    expect(calls.some((c) => c.includes('get-secret-value'))).toBe(false);
    expect(calls.some((c) => /run\.sh|config\.sh/.test(c))).toBe(false);
    expect(existsSync(`${box.root}/extra-ran`)).toBe(true);
    expect(readFileSync(`${box.root}/opt/actions-runner/.env`, 'utf8')).toContain('ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/runner-fleet/bin/job-started');
  });

  test('warm-pool launch whose action is gone (409): logged as nothing to complete, the boot still succeeds', () => {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    box.agentAnswers({ action: 'complete' }, { status: 409, message: 'no such lifecycle action' });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.filter((c) => c.includes('"action":"complete"'))).toEqual([complete('launch', 'CONTINUE')]);
    expect(result.log).toContain('nothing to do (409 no such lifecycle action)');
    expect(result.log).toContain('no pending launch action to complete');
  });

  test('a second boot into service skips preparation', () => {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    box.states(['InService']);
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    const result = box.bootstrap();
    const installs = result.calls.filter((c) => c.startsWith('dnf install'));
    expect(installs).toHaveLength(1); // only from the first boot
  });

  test('ephemeral into service: waits for InService, reads its own secret, runs the JIT runner as runner; after its job it asks the agent to leave, once', () => {
    box.install(defaultOptions());
    box.states(['Pending:Wait', 'Pending:Wait', 'InService']);
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const states = calls.filter((c) => c.endsWith('autoscaling/target-lifecycle-state'));
    expect(states.length).toBeGreaterThanOrEqual(3);
    const read = indexOfCall(calls, new RegExp(`^aws secretsmanager get-secret-value --secret-id github-runner-fleet/linux/${INSTANCE_ID} `));
    const run = indexOfCall(calls, /^runuser -u runner -- \.\/run\.sh$/);
    expect(read).toBeGreaterThan(indexOfCall(calls, /^dnf install/));
    expect(run).toBeGreaterThan(read);
    // One call: the agent shrinks the group by one, or, at the group's minimum size, lets it replace
    // the instance. The capacity controller decides whether another runner is needed.
    expect(leaveCalls(calls)).toEqual([LEAVE_AFTER_JOB]);
    expect(calls.indexOf(LEAVE_AFTER_JOB)).toBeGreaterThan(indexOfCall(calls, /^job steps done$/));
    expect(result.log).toContain('after its job: leaving');
    expect(result.log).toContain('terminating after its job: the group shrinks by one (or replaces it at its minimum size)');
    expect(calls).toContain('iptables -A OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT');
    // The JIT configuration never reaches stdout, stderr or the log file.
    expect(registrationLeaks(box)).toEqual([]);
    expect(result.log).toContain('starting the ephemeral runner');
  });

  test('ephemeral, the agent says the instance is already terminating (409): it completes its own terminate action instead', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    box.agentAnswers({ action: 'leave' }, { status: 409, message: 'already terminating' });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_JOB]);
    expect(result.calls.indexOf(complete('terminate', 'CONTINUE'))).toBeGreaterThan(result.calls.indexOf(LEAVE_AFTER_JOB));
    expect(result.log).toContain('already terminating: completing the terminate action');
    expect(result.log).toContain('completed the terminate action');
  });

  test('ephemeral, 409 on the leave and no terminate action either: the bootstrap fails (and systemd runs it again)', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    box.agentAnswers({ action: 'leave' }, { status: 409, message: 'cannot leave' });
    box.agentAnswers({ action: 'complete', hook: 'terminate' }, { status: 409, message: 'no such lifecycle action' });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.log).toContain('no pending terminate action to complete');
    expect(result.log).toContain('could not terminate this instance');
  });

  test('ephemeral runner that exits before taking a job: one leave after a failure (the group replaces it, the desired capacity unchanged)', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    const result = box.bootstrap(); // the stub runner exits at once, without a job
    expect(result.status).toBe(0);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_FAILURE]);
    expect(result.log).toContain('before taking a job: replacing this instance');
    expect(result.log).toContain('terminating, the group launches a replacement');
  });

  test('ephemeral, the agent fails (500) every time: tried three times, the status and message logged, the bootstrap fails (and systemd runs it again)', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    box.agentAnswers({ action: 'leave' }, { status: 500, message: 'the agent broke' });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_JOB, LEAVE_AFTER_JOB, LEAVE_AFTER_JOB]);
    expect(result.log).toContain('{"action":"leave","after":"job"}: answered 500 the agent broke, trying again');
    expect(result.log).toContain('{"action":"leave","after":"job"}: answered 500 the agent broke\n');
    expect(result.log).toContain('could not terminate this instance');
    expect(leaks([result.output, result.log])).toEqual([]);
  });

  test('a failure the agent recovers from (500, then 200): tried again, and the instance leaves', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    box.agentAnswers({ action: 'leave' }, { status: 500, message: 'throttled', once: true });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_JOB, LEAVE_AFTER_JOB]);
    expect(result.log).toContain('terminating after its job');
  });

  test('the agent unreachable: curl fails (000), tried three times, logged', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.agentAnswers({ action: 'leave' }, { status: 0 });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_FAILURE, LEAVE_AFTER_FAILURE, LEAVE_AFTER_FAILURE]);
    expect(result.log).toContain('{"action":"leave","after":"failure"}: answered 000');
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
    const config = indexOfCall(result.calls, new RegExp('^runuser -u runner -- ./config.sh --unattended --url https://github.com/acme '
      + `--name linux-${INSTANCE_ID} --labels linux,x64,fleet-linux --work _work --replace --disableupdate --runnergroup Builders$`));
    const run = indexOfCall(result.calls, /^runuser -u runner -- \.\/run\.sh$/);
    expect(config).toBeGreaterThan(0);
    expect(run).toBeGreaterThan(config);
    expect(result.calls.some((c) => c.startsWith('apt-get install -y -q jq tar gzip git curl iptables docker.io'))).toBe(true);
    expect(leaveCalls(result.calls)).toEqual([]);
    expect(registrationLeaks(box, result.output)).toEqual([]);
    expect(result.runnerEnv).toEqual(['config.sh ACTIONS_RUNNER_INPUT_TOKEN=REG-SECRET-TOKEN']);
  });

  test('a failed preparation abandons its own launch action and never starts the runner', () => {
    box.install(defaultOptions());
    box.flag('install-fails');
    box.secret({ mode: 'ephemeral', runnerName: 'x', jitConfig: JIT });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
    expect(result.calls).not.toContain(UNHEALTHY);
    expect(result.calls.some((c) => /run\.sh|get-secret-value/.test(c))).toBe(false);
    expect(result.log).toContain('bootstrap failed: preparation');
    expect(result.log).toContain('abandoned the launch action');
  });

  test('when there is no launch action left to abandon (409), the instance marks itself unhealthy', () => {
    box.install(defaultOptions());
    box.flag('install-fails');
    box.agentAnswers({ action: 'complete', hook: 'launch' }, { status: 409, message: 'no such lifecycle action' });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    const abandon = result.calls.indexOf(complete('launch', 'ABANDON'));
    const unhealthy = result.calls.indexOf(UNHEALTHY);
    expect(abandon).toBeGreaterThan(0);
    expect(unhealthy).toBeGreaterThan(abandon);
    expect(result.log).toContain('marked the instance unhealthy');
  });

  test('the agent refuses the caller (403): the boot fails, saying why, and nothing else is attempted twice', () => {
    box.install(defaultOptions());
    box.agentAnswers({}, { status: 403, message: 'not an instance of any fleet' });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.calls.filter((c) => c.startsWith('agent '))).toEqual([WHOAMI, complete('launch', 'ABANDON'), UNHEALTHY]);
    expect(result.log).toContain('{"action":"whoami"}: answered 403 not an instance of any fleet');
    expect(result.log).toContain('bootstrap failed: cannot read the instance identity');
    expect(result.log).toContain('could neither abandon the launch action nor mark the instance unhealthy');
    expect(result.calls.some((c) => c.startsWith('dnf '))).toBe(false);
  });

  test('never in service within the timeout: abandons', () => {
    box.install(defaultOptions({ inServiceTimeoutSeconds: 1 }));
    box.states(['Pending:Wait']);
    const result = box.run(`${box.root}/opt/runner-fleet/bin/bootstrap`);
    expect(result.status).not.toBe(0);
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
    expect(result.calls.some((c) => c.includes('get-secret-value'))).toBe(false);
  });

  test('credentials: read by root from the metadata service, handed to curl on its standard input, never on a command line or in the log', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.secret({ mode: 'persistent', runnerName: `linux-${INSTANCE_ID}`, registrationToken: 'T', registrationUrl: 'https://github.com/acme', labels: 'linux' });
    box.job();
    box.agentAnswers({ action: 'protect', protected: false }, { status: 500, message: 'the agent broke' });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const agentLines = result.argv.filter((a) => a.includes('--aws-sigv4'));
    // whoami, protect on, protect off three times
    expect(agentLines).toHaveLength(5);
    for (const line of agentLines) {
      expect(line).toMatch(/^-q -sS --connect-timeout 5 --max-time 30 -K - --aws-sigv4 aws:amz:eu-west-1:lambda -H content-type: application\/json --data-binary \{.*\} -w \\n%\{http_code\} https:\/\/\S+\.lambda-url\.eu-west-1\.on\.aws\/$/);
    }
    // The stub saw the role's own credentials on every call (creds=ok in each line).
    expect(result.calls.filter((c) => c.startsWith('agent '))).toEqual([WHOAMI, PROTECT_ON, PROTECT_OFF, PROTECT_OFF, PROTECT_OFF]);
    expect(result.calls).toContain('curl http://169.254.169.254/latest/meta-data/iam/security-credentials/runner-fleet-instance-role');
    expect(leaks([...result.calls, ...result.argv, result.output, result.log])).toEqual([]);
    expect(result.log).toContain('answered 500 the agent broke');
  });

  test('malformed credentials from the metadata service never reach curl', () => {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    // A "credential" (valid JSON) that would end curl's configuration line and add an option of its own.
    writeFileSync(`${box.stub}/credentials.sh`, `${String.raw`ACCESS_KEY_ID='AKID\"\nurl = \"https://elsewhere'`}\nSECRET_ACCESS_KEY=S\nSESSION_TOKEN=T\n`);
    const result = box.bootstrap();
    expect(result.calls.filter((c) => c.startsWith('agent '))).toEqual([]);
    expect(result.argv.filter((a) => a.includes('--aws-sigv4'))).toEqual([]);
    expect(result.log).toContain("the instance role's credentials are missing or malformed");
  });

  test('the job hooks: job-event started protects the instance; finished lifts the protection of a persistent runner only', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap(); // prepares (the sudoers rule) and caches the identity
    const started = box.run(`${box.root}/opt/runner-fleet/bin/job-started`);
    expect(started.status).toBe(0);
    const finished = box.run(`${box.root}/opt/runner-fleet/bin/job-completed`);
    expect(finished.status).toBe(0);
    const calls = finished.calls;
    expect(calls.indexOf(PROTECT_ON)).toBeGreaterThan(calls.indexOf(JOB_EVENT_STARTED));
    expect(calls.indexOf(PROTECT_OFF)).toBeGreaterThan(calls.indexOf(JOB_EVENT_FINISHED));
    expect(finished.log).toContain('scale-in protection on');
    expect(finished.log).toContain('scale-in protection off');

    const ephemeral = new Sandbox();
    try {
      ephemeral.install(defaultOptions());
      ephemeral.states(['Warmed:Pending:Wait']);
      ephemeral.bootstrap();
      ephemeral.run(`${ephemeral.root}/opt/runner-fleet/bin/job-started`);
      const result = ephemeral.run(`${ephemeral.root}/opt/runner-fleet/bin/job-completed`);
      expect(result.calls).toContain(JOB_EVENT_FINISHED);
      expect(result.calls).toContain(PROTECT_ON);
      expect(result.calls).not.toContain(PROTECT_OFF); // it keeps its protection until it leaves
    } finally {
      ephemeral.cleanup();
    }
  });

  test('a refused protection (409: already terminating) is logged; the hook still lets the job run', () => {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    box.agentAnswers({ action: 'protect' }, { status: 409, message: 'already terminating' });
    const result = box.run(`${box.root}/opt/runner-fleet/bin/job-started`);
    expect(result.status).toBe(0);
    expect(result.output).toContain('runner-fleet: could not record that a job started');
    expect(result.log).toContain('could not set scale-in protection on');
    expect(existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(true);
  });

  test('the sudoers rule allows exactly what the two hooks run, and nothing more', () => {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    const rule = readFileSync(`${box.root}/etc/sudoers.d/runner-fleet`, 'utf8');
    expect(rule).toBe(SUDOERS);
    const allowed = rule.split('\n').find((l) => l.startsWith('runner '))!.replace(/^.*NOPASSWD: /, '').split(', ');
    const hooks = bootstrapFiles(defaultOptions()).filter((f) => /job-(started|completed)$/.test(f.path));
    const hooked = hooks.flatMap((f) => [...f.content.matchAll(/sudo -n (.+?) \|\|/g)].map((m) => m[1]));
    expect(hooked.sort()).toEqual(allowed.sort());
    // The hooks change nothing themselves: their only command is that sudo call.
    for (const hook of hooks) {
      const commands = hook.content.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      expect({ hook: hook.path, commands: commands.length, sudo: commands[0].startsWith('sudo -n '), last: commands[1] })
        .toEqual({ hook: hook.path, commands: 2, sudo: true, last: 'exit 0' });
    }
  });
});

// sudo's own syntax check: a sudoers file that does not parse breaks sudo for everyone. CI always runs it
// (scripts/ensure-tools.sh installs sudo); elsewhere it needs visudo on PATH.
const visudo = spawnSync('visudo', ['--version']).error === undefined;
(visudo || process.env.CI ? test : test.skip)('the sudoers file parses (visudo -c)', () => {
  const box = new Sandbox();
  try {
    box.install(defaultOptions());
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    const check = spawnSync('visudo', ['-c', '-f', `${box.root}/etc/sudoers.d/runner-fleet`], { encoding: 'utf8' });
    expect(`${check.status} ${check.stdout}${check.stderr}`).toMatch(/^0 .*parsed OK/);
  } finally {
    box.cleanup();
  }
});

describe('retirement: the instance stops its own runner only when no job runs', () => {
  let box!: Sandbox;
  sandboxPerTest((b) => (box = b));

  const TERMINATE = complete('terminate', 'CONTINUE');

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
    const done = calls.indexOf(TERMINATE);
    expect(check).toBeGreaterThan(indexOfCall(calls, /run\.sh/));
    expect(stop).toBeGreaterThan(check);
    expect(done).toBeGreaterThan(indexOfCall(calls, /^listener stopped$/));
    expect(result.log).toContain('target Terminated: the runner was idle and is stopping');
    expect(result.log).toContain('completed the terminate action');
  });

  test('scale-in arriving during a job: the runner is stopped only after the job, whatever GitHub says', () => {
    persistent();
    box.flag('listen');
    // The job's steps end only after the check has seen Terminated and held the terminate action.
    box.job({ doneAfter: 'agent-heartbeat' });
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
    expect(calls.indexOf(TERMINATE)).toBeGreaterThan(stop);
    // While the job ran, the instance held its own terminate action.
    const beat = calls.indexOf(HEARTBEAT);
    expect(beat).toBeGreaterThan(indexOfCall(calls, /^job steps running$/));
    expect(beat).toBeLessThan(done);
  });

  test('a job already handed to the runner (its worker exists) before the job-started hook: not stopped', () => {
    persistent();
    box.flag('listen');
    // The hook runs only after the check has seen Terminated with the worker and no busy marker, and
    // has held the terminate action instead of stopping the runner.
    box.job({ hookAfter: 'agent-heartbeat' });
    box.states(['InService', 'Terminated when worker']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const hook = calls.indexOf(JOB_EVENT_STARTED);
    const beat = calls.indexOf(HEARTBEAT);
    expect(beat).toBeGreaterThan(indexOfCall(calls, /^pgrep -u runner -f Runner\.Worker$/));
    expect(hook).toBeGreaterThan(beat);
    expect(indexOfCall(calls, /^pkill /)).toBeGreaterThan(indexOfCall(calls, /^job steps done$/));
    expect(calls).not.toContain('stub: gave up waiting for agent-heartbeat');
  });

  test('no terminate action to hold (409) while a job runs: the job is not stopped, and the check asks again later', () => {
    persistent();
    box.flag('listen');
    box.agentAnswers({ action: 'heartbeat' }, { status: 409, message: 'no such lifecycle action' });
    box.job({ doneAfter: 'agent-heartbeat' });
    box.states(['InService', 'Terminated when job-running']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(indexOfCall(result.calls, /^pkill /)).toBeGreaterThan(indexOfCall(result.calls, /^job steps done$/));
    expect(result.log).toContain('{"action":"heartbeat","hook":"terminate"}: nothing to do (409 no such lifecycle action)');
  });

  test('back to the warm pool (Warmed:Stopped) while idle: the same retirement', () => {
    persistent();
    box.flag('listen');
    box.states(['InService', 'Warmed:Pending:Wait when listening']);
    const result = box.bootstrap();
    expect(result.calls).toContain(TERMINATE);
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
    box.job({ doneAfter: 'agent-heartbeat' });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const calls = result.calls;
    const done = indexOfCall(calls, /^job steps done$/);
    expect(calls.indexOf(HEARTBEAT)).toBeLessThan(done);
    expect(calls.indexOf(HEARTBEAT)).toBeGreaterThan(0);
    expect(indexOfCall(calls, /^pkill /)).toBeGreaterThan(done);
  });

  test('the group wants the instance gone before its runner starts: it leaves without starting the runner', () => {
    persistent();
    box.states(['InService', 'InService', 'Terminated']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => /run\.sh/.test(c))).toBe(false);
    expect(result.calls).toContain(TERMINATE);
  });

  test('ephemeral: after its one job the instance leaves through the agent; nothing retires a runner in service', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => c.startsWith('pkill'))).toBe(false);
    expect(result.calls.indexOf(LEAVE_AFTER_JOB)).toBeGreaterThan(indexOfCall(result.calls, /^job steps done$/));
    expect(result.calls).not.toContain(TERMINATE);
  });

  test('the job hooks set and clear the busy marker (job-event, as root, under the lock), and took-job stays', () => {
    persistent();
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    const started = box.run(`${box.root}/opt/runner-fleet/bin/job-started`);
    expect(started.status).toBe(0);
    expect(existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(true);
    expect(started.calls).toContain(JOB_EVENT_STARTED);
    box.run(`${box.root}/opt/runner-fleet/bin/job-completed`);
    expect(existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(false);
    // That a job was taken outlasts the job: an ephemeral instance then leaves without a replacement.
    expect(existsSync(`${box.root}/run/runner-fleet/took-job`)).toBe(true);
  });

  test('job-event started waits for the lock the retirement check holds', async () => {
    persistent();
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap(); // makes the state directory and its lock
    const lock = `${box.root}/run/runner-fleet/job.lock`;
    const busy = `${box.root}/run/runner-fleet/busy`;
    const acquired = `${box.dir}/acquired`;
    // Hold the lock, as retire_if_idle does while it decides, until the test closes the holder's stdin.
    const holder = spawn('flock', [lock, 'bash', '-c', `touch ${acquired}; read -r _ || true`]);
    try {
      await until(() => existsSync(acquired), 'the lock holder');
      const hook = box.start(`${box.root}/opt/runner-fleet/bin/job-started`);
      let hookExited = false;
      void hook.exited.then(() => (hookExited = true));
      // The kernel shows the request blocked on the lock: job-event cannot mark the instance busy now.
      await until(() => hookExited || lockWaiters(lock) > 0, 'job-event to block on the lock (or to exit)');
      expect(hookExited).toBe(false);
      expect(existsSync(busy)).toBe(false);
      holder.stdin.end();
      const result = await hook.exited;
      // It marked the instance busy once the lock was free again.
      expect(result.status).toBe(0);
      expect(existsSync(busy)).toBe(true);
    } finally {
      holder.stdin.end();
      holder.kill();
    }
  });

  test('the retirement check decides under the same lock: a job marked started while it waited is not stopped', async () => {
    persistent();
    box.flag('listen');
    box.states(['InService', 'Terminated when listening']);
    // The state directory as the boot keeps it (root's, mode 0755), its lock held as job-event holds it.
    const dir = `${box.root}/run/runner-fleet`;
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    const lock = `${dir}/job.lock`;
    writeFileSync(lock, '', { mode: 0o600 });
    const acquired = `${box.dir}/acquired`;
    // Holds the lock until the test closes its stdin.
    const holder = spawn('flock', [lock, 'bash', '-c', `touch ${acquired}; read -r _ || true`]);
    try {
      await until(() => existsSync(acquired), 'the lock holder');
      const boot = box.start(`${box.root}/opt/runner-fleet/bin/bootstrap`);
      let bootExited = false;
      void boot.exited.then(() => (bootExited = true));
      // The check has seen Terminated and the idle listener, and waits for the lock.
      await until(() => bootExited || lockWaiters(lock) > 0, 'the retirement check to block on the lock (or the boot to exit)');
      expect(bootExited).toBe(false);
      expect(box.recorded().calls.some((c) => c.startsWith('pkill'))).toBe(false);
      // What job-event started does under the lock, then lets go.
      writeFileSync(`${dir}/busy`, '');
      holder.stdin.end();
      await until(() => bootExited || box.happened('agent-heartbeat'), 'the check to hold the terminate action for the job');
      expect(box.recorded().calls.some((c) => c.startsWith('pkill'))).toBe(false);
      // The job is over: now the idle runner is stopped.
      rmSync(`${dir}/busy`);
      const result = await boot.exited;
      expect(result.status).toBe(0);
      expect(indexOfCall(result.calls, /^pkill -INT -u runner -f Runner\.Listener$/)).toBeGreaterThan(result.calls.indexOf(HEARTBEAT));
      expect(result.calls).toContain(TERMINATE);
    } finally {
      holder.stdin.end();
      holder.kill();
    }
  });
});

describe('a job can touch only its own instance: state the runner user cannot forge', () => {
  let box!: Sandbox;
  sandboxPerTest((b) => (box = b));

  const RUN = (b: Sandbox): string => `${b.root}/run/runner-fleet`;
  // The attacks run as another user through setpriv, which needs root: CI runs as root and always runs them.
  const rootTest = RUNNING_AS_ROOT || process.env.CI ? test : test.skip;

  function ephemeral(): void {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
  }

  /** Permission bits, in octal, as ls and chmod write them. */
  function mode(file: string): string {
    return (lstatSync(file).mode % 0o10000).toString(8);
  }

  test('the state directory is made by root at boot: owned by root, mode 0755, its lock readable by root only', () => {
    ephemeral();
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const dir = RUN(box);
    expect(result.calls).toContain(`install -d -o root -g root -m 0755 ${dir}`);
    expect(result.calls.filter((c) => c.startsWith('chown') && c.includes('/run/'))).toEqual([]);
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(mode(dir)).toBe('755');
    expect(statSync(dir).uid).toBe(process.getuid!());
    expect(mode(`${dir}/job.lock`)).toBe('600');
    // Every marker is a regular file of root's, which only root may read or write.
    for (const name of readdirSync(dir)) {
      const stat = lstatSync(`${dir}/${name}`);
      expect({ name, file: stat.isFile(), uid: stat.uid, mode: mode(`${dir}/${name}`) }).toEqual({ name, file: true, uid: process.getuid!(), mode: '600' });
    }
    expect(readdirSync(dir).sort()).toEqual(['job.lock', 'registered', 'took-job']);
  });

  rootTest('a job (an unprivileged user) can neither create retiring, delete took-job, plant a link, nor hold the job lock; the instance still leaves after its job', () => {
    ephemeral();
    const step = [
      'd="$RUNNER_FLEET_ROOT/run/runner-fleet"',
      'touch "$d/retiring" && echo "ATTACK: created retiring"',
      'rm -f "$d/took-job" && [ ! -e "$d/took-job" ] && echo "ATTACK: deleted took-job"',
      'ln -s /etc/passwd "$d/busy" && echo "ATTACK: planted a link"',
      'flock -n "$d/job.lock" true && echo "ATTACK: held the job lock"',
      'exit 0',
    ].join('\n');
    box.job({ step });
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    const out = readFileSync(`${box.stub}/job.step.out`, 'utf8');
    expect(out).not.toContain('ATTACK');
    expect(out).toContain('Permission denied');
    expect(result.calls).toContain('job step exited 0');
    // Not taken for an idle runner that was retired: the instance leaves after its job.
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_JOB]);
    expect(result.log).not.toContain('the runner stopped while idle');
    expect(existsSync(`${RUN(box)}/took-job`)).toBe(true);
    expect(existsSync(`${RUN(box)}/retiring`)).toBe(false);
    // The same step, run by root, does what it says: its checks can tell an attack that works.
    const asRoot = execFileSync('bash', ['-c', step], { env: { ...process.env, RUNNER_FLEET_ROOT: box.root }, encoding: 'utf8' });
    expect(asRoot).toContain('ATTACK: created retiring');
  });

  test('job-event refuses every other command line: through sudo the rule refuses it, run directly it exits 2 and logs; nothing changes', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    const script = `${box.dir}/as-runner.sh`;
    for (const line of [
      'sudo -n /opt/runner-fleet/bin/job-event sideways',
      'sudo -n /opt/runner-fleet/bin/job-event started now',
      'sudo -n /opt/runner-fleet/bin/job-event',
      'sudo -n /opt/runner-fleet/bin/protect on',
      'sudo -n /bin/bash -c id',
    ]) {
      writeFileSync(script, `${line}\n`);
      const result = box.run(script);
      expect({ line, status: result.status, refused: result.calls.includes(`sudo: refused ${line.replace('sudo -n ', '')}`) }).toEqual({ line, status: 1, refused: true });
    }
    const jobEvent = `${box.root}/opt/runner-fleet/bin/job-event`;
    for (const args of [['sideways'], [], ['started', 'now'], ['started;touch x'], ['finished\n']]) {
      const result = box.run(jobEvent, args);
      expect({ args, status: result.status }).toEqual({ args, status: 2 });
    }
    const { calls, log } = box.recorded();
    expect(log).toContain('job-event: refused sideways (only job-event started or job-event finished)');
    expect(log).toContain('job-event: refused started\\;touch\\ x (only');
    expect(calls.filter((c) => c.includes('"action":"protect"'))).toEqual([]);
    expect(readdirSync(RUN(box))).toEqual(['job.lock']);
  });

  test('a link planted at a marker\'s path is replaced, never followed: its target is unchanged', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.states(['Warmed:Pending:Wait']);
    box.bootstrap();
    const victim = `${box.dir}/victim`;
    writeFileSync(victim, 'precious\n');
    // Links root could once have been tricked into following (the runner owned the directory).
    for (const marker of ['busy', 'took-job']) {
      symlinkSync(victim, `${RUN(box)}/${marker}`);
    }
    const result = box.run(`${box.root}/opt/runner-fleet/bin/job-started`);
    expect(result.status).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(`${RUN(box)}/busy`).isFile()).toBe(true);
    expect(lstatSync(`${RUN(box)}/took-job`).isFile()).toBe(true);
    symlinkSync(victim, `${RUN(box)}/retiring`);
    box.run(`${box.root}/opt/runner-fleet/bin/job-completed`);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(existsSync(`${RUN(box)}/busy`)).toBe(false);
    expect(existsSync(victim)).toBe(true);
  });

  test('a link planted at the directory\'s path: the boot replaces it with its own directory, and the link\'s target is untouched', () => {
    ephemeral();
    const elsewhere = `${box.dir}/elsewhere`;
    mkdirSync(elsewhere);
    writeFileSync(`${elsewhere}/retiring`, '');
    mkdirSync(`${box.root}/run`);
    symlinkSync(elsewhere, RUN(box));
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(lstatSync(RUN(box)).isSymbolicLink()).toBe(false);
    expect(lstatSync(RUN(box)).isDirectory()).toBe(true);
    expect(readdirSync(elsewhere)).toEqual(['retiring']);
    expect(result.log).toContain('is not a directory only root may write: making it again');
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_JOB]);
    expect(result.log).not.toContain('the runner stopped while idle');
  });

  // A took-job planted there would make a runner that never took a job leave as if it had (the group
  // shrinking instead of replacing it): the directory is made again, empty.
  test('a directory others may write (mode 0777) at that path is made again (mode 0755): a planted took-job is not believed', () => {
    ephemeral();
    mkdirSync(RUN(box), { recursive: true });
    chmodSync(RUN(box), 0o777);
    writeFileSync(`${RUN(box)}/took-job`, '');
    const result = box.bootstrap(); // the runner exits without a job
    expect(result.status).toBe(0);
    expect(mode(RUN(box))).toBe('755');
    expect(existsSync(`${RUN(box)}/took-job`)).toBe(false);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_FAILURE]);
  });

  rootTest('a directory another user owns at that path is made again, owned by root: a planted took-job is not believed', () => {
    ephemeral();
    mkdirSync(RUN(box), { recursive: true });
    writeFileSync(`${RUN(box)}/took-job`, '');
    chownSync(`${RUN(box)}/took-job`, UNPRIVILEGED_UID, UNPRIVILEGED_UID);
    chownSync(RUN(box), UNPRIVILEGED_UID, UNPRIVILEGED_UID);
    const result = box.bootstrap(); // the runner exits without a job
    expect(result.status).toBe(0);
    expect(statSync(RUN(box)).uid).toBe(0);
    expect(existsSync(`${RUN(box)}/took-job`)).toBe(false);
    expect(leaveCalls(result.calls)).toEqual([LEAVE_AFTER_FAILURE]);
  });
});

describe('registration material and the runner download', () => {
  let box!: Sandbox;
  sandboxPerTest((b) => (box = b), (b) => {
    expect(registrationLeaks(b)).toEqual([]);
  });

  const runnerFile = (name: string): string => `${box.root}/opt/actions-runner/${name}`;
  const secretExists = (): boolean => existsSync(`${box.dir}/stub/secret`);
  const DELETE_SECRET = `aws secretsmanager delete-secret --secret-id github-runner-fleet/linux/${INSTANCE_ID} --force-delete-without-recovery`;

  test('ephemeral: the JIT configuration becomes the runner\'s settings files (mode 0600, written as the runner user), the secret is deleted, then run.sh starts with no argument', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    for (const [name, content] of Object.entries(JIT_FILES)) {
      expect({ name, content: readFileSync(runnerFile(name), 'utf8'), mode: (statSync(runnerFile(name)).mode % 0o1000).toString(8) })
        .toEqual({ name, content, mode: '600' });
      expect(result.calls).toContain(`runuser -u runner -- sh -c umask 077 && rm -f -- "$1" && cat >"$1" sh ${runnerFile(name)}`);
    }
    const read = indexOfCall(result.calls, /get-secret-value/);
    const deleted = result.calls.indexOf(DELETE_SECRET);
    const run = result.calls.indexOf('runuser -u runner -- ./run.sh');
    expect(read).toBeGreaterThan(0);
    expect(deleted).toBeGreaterThan(read);
    expect(run).toBeGreaterThan(deleted);
    expect(result.calls).toContain('run.sh ');
    expect(secretExists()).toBe(false);
    expect(existsSync(`${box.root}/var/lib/runner-fleet/registration.json`)).toBe(false);
    expect(result.runnerEnv).toEqual([]);
    expect(result.log).toContain('deleted the registration secret');
  });

  test('ephemeral: when the secret cannot be deleted, the runner does not start and the launch is abandoned', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.flag('delete-fails');
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.calls).toContain(DELETE_SECRET);
    expect(result.calls.some((c) => c.includes('./run.sh'))).toBe(false);
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
    expect(result.log).toContain('could not delete the registration secret: the runner does not start while it can still be read');
    expect(existsSync(`${box.root}/var/lib/runner-fleet/registration.json`)).toBe(false);
  });

  test.each([
    ['a file outside the runner folder', encodeJit({ '.runner': '{}', '../../../etc/cron.d/evil': '* * * * * root id' }), 'it names the file'],
    ['a path below it', encodeJit({ '.runner': '{}', 'bin/Runner.Listener': 'x' }), 'it names the file'],
    ['not base64 JSON', 'JIT-SECRET-NOT-A-CONFIGURATION', 'cannot unpack'],
    ['a JSON value that is not an object of strings', Buffer.from('[1,2]').toString('base64'), 'cannot unpack'],
  ])('a JIT configuration naming %s is refused: nothing is written, the runner does not start, the launch is abandoned', (_what, jitConfig, message) => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.log).toContain(message);
    expect(result.log).toContain("bootstrap failed: cannot unpack the registration's JIT configuration");
    expect(result.calls.some((c) => c.includes('./run.sh'))).toBe(false);
    expect(result.calls.filter((c) => c.startsWith('runuser') && c.includes('cat >'))).toEqual([]);
    expect(existsSync(`${box.root}/etc/cron.d/evil`)).toBe(false);
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
  });

  test('ephemeral: the bootstrap run again in the same boot (leaving had failed) leaves without reading a registration or starting a runner', () => {
    box.install(defaultOptions());
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    box.job();
    box.agentAnswers({ action: 'leave' }, { status: 500, message: 'the agent broke' });
    expect(box.bootstrap().status).not.toBe(0);
    rmSync(`${box.dir}/stub/agent-answers`);
    const before = box.recorded().calls.length;
    const again = box.bootstrap();
    expect(again.status).toBe(0);
    const calls = again.calls.slice(before);
    expect(calls.some((c) => /get-secret-value|\.\/run\.sh/.test(c))).toBe(false);
    expect(leaveCalls(calls)).toEqual([LEAVE_AFTER_JOB]);
    expect(again.log).toContain("this boot's runner has run already: leaving");
  });

  test('persistent: the token reaches config.sh only in its environment; the secret is deleted before run.sh; a restart runs the configured runner without a registration', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    box.secret({ mode: 'persistent', runnerName: `linux-${INSTANCE_ID}`, registrationToken: 'REG-SECRET-TOKEN', registrationUrl: 'https://github.com/acme', labels: 'linux' });
    const first = box.bootstrap();
    expect(first.status).toBe(0);
    const config = indexOfCall(first.calls, /\.\/config\.sh /);
    const deleted = first.calls.indexOf(DELETE_SECRET);
    const run = first.calls.indexOf('runuser -u runner -- ./run.sh');
    expect(config).toBeGreaterThan(0);
    expect(deleted).toBeGreaterThan(config);
    expect(run).toBeGreaterThan(deleted);
    expect(first.calls[config]).not.toContain('--token');
    expect(first.runnerEnv).toEqual(['config.sh ACTIONS_RUNNER_INPUT_TOKEN=REG-SECRET-TOKEN']);
    expect(secretExists()).toBe(false);
    // The stub config.sh configures nothing: the runner's settings file stands for what it writes.
    writeFileSync(runnerFile('.runner'), '{}');
    const before = first.calls.length;
    const again = box.bootstrap();
    expect(again.status).toBe(0);
    const calls = again.calls.slice(before);
    expect(calls.some((c) => c.includes('./config.sh'))).toBe(false);
    expect(calls).toContain('runuser -u runner -- ./run.sh');
    expect(again.log).toContain('no registration to read (used and deleted): the runner is configured already');
    expect(again.log).toContain(`starting the persistent runner linux-${INSTANCE_ID}`);
  });

  test('persistent, never configured and no registration: the boot fails and abandons the launch', () => {
    box.install(defaultOptions({ mode: 'persistent' }));
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.log).toContain("bootstrap failed: cannot read the instance's registration");
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
  });

  test('a tampered runner tarball is refused before it is unpacked: no tar, no installdependencies.sh as root, the launch abandoned', () => {
    box.install(defaultOptions());
    box.tarball('the runner release tarball, with a backdoor\n');
    box.secret({ mode: 'ephemeral', runnerName: `linux-${INSTANCE_ID}`, jitConfig: JIT });
    const result = box.bootstrap();
    expect(result.status).not.toBe(0);
    expect(result.calls.some((c) => /^tar |installdependencies|\.\/run\.sh/.test(c))).toBe(false);
    expect(result.log).toContain('refused the runner download https://github.com/actions/runner/releases/download/v2.329.0/actions-runner-linux-x64-2.329.0.tar.gz: '
      + `its SHA-256 is ${sha256('the runner release tarball, with a backdoor\n')}, not ${sha256('the runner release tarball\n')}`);
    expect(existsSync(`${box.root}/var/lib/runner-fleet/runner.tar.gz`)).toBe(false);
    expect(existsSync(`${box.root}/var/lib/runner-fleet/prepared`)).toBe(false);
    expect(result.calls).toContain(complete('launch', 'ABANDON'));
  });

  test('a mirror: the tarball comes from there, and is verified the same way', () => {
    box.install(defaultOptions({ runnerDownloadBaseUrl: 'https://mirror.example/actions-runner' }));
    box.states(['Warmed:Pending:Wait']);
    const result = box.bootstrap();
    expect(result.status).toBe(0);
    expect(indexOfCall(result.calls, /^curl https:\/\/mirror\.example\/actions-runner\/v2\.329\.0\/actions-runner-linux-x64-2\.329\.0\.tar\.gz$/)).toBeGreaterThan(0);
    expect(result.log).toContain(`the runner download has the expected SHA-256 ${sha256('the runner release tarball\n')}`);
  });
});
