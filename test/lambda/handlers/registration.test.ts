import { createRegistrationHandler } from '../../../lambda/handlers/registration';
import { GitHubError } from '../../../lambda/ports';
import { fleetEntry, lifecycleEvent, runner, runtimeConfig } from '../fixtures';
import { World } from './fakes';

const ID = 'i-0123456789abcdef0';

describe('registration handler', () => {
  test('a cold start: JIT config, then the instance secret, then CONTINUE', async () => {
    const world = new World();
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent({ origin: 'EC2' }));

    expect(report).toEqual({ outcome: 'registered', instanceId: ID, fleet: 'linux' });
    expect(world.order()).toEqual(['generateJitConfig', 'putInstanceSecret', 'completeLifecycleAction']);
    expect(world.callsOf('generateJitConfig')[0].args[0]).toEqual({ name: `linux-${ID}`, labels: ['linux', 'x64', 'fleet-linux'], runnerGroupId: 1 });
    const secret = world.secrets.get(`github-runner-fleet/linux/${ID}`)!;
    expect(secret.instanceArn).toBe(`arn:aws:ec2:eu-west-1:123456789012:instance/${ID}`);
    expect(JSON.parse(secret.value)).toEqual({ mode: 'ephemeral', runnerName: `linux-${ID}`, jitConfig: 'JITCONFIG-SECRET-100' });
    expect(world.completed).toEqual([{ action: expect.objectContaining({ instanceId: ID, token: 'token-1' }), result: 'CONTINUE' }]);
    expect(world.metricTotal('Registrations')).toBe(1);
  });

  test('a runner group given by name: its id is looked up and used for the JIT configuration', async () => {
    const world = new World();
    world.runnerGroups.set('Builders', 7);
    const config = runtimeConfig([fleetEntry({ runnerGroupId: undefined, runnerGroupName: 'Builders' })]);
    await createRegistrationHandler(world.deps(config))(lifecycleEvent());
    expect(world.callsOf('generateJitConfig')[0].args[0]).toEqual(expect.objectContaining({ runnerGroupId: 7 }));
  });

  test('an unknown runner group: ABANDON at once, a clear error logged and counted, nothing left behind', async () => {
    const world = new World();
    const config = runtimeConfig([fleetEntry({ runnerGroupId: undefined, runnerGroupName: 'Bulders' })]);
    const report = await createRegistrationHandler(world.deps(config))(lifecycleEvent());
    expect(report.outcome).toBe('abandoned');
    expect(world.completed.map((c) => c.result)).toEqual(['ABANDON']);
    expect(world.callsOf('generateJitConfig')).toEqual([]);
    expect(world.secrets.size).toBe(0);
    expect(world.metricTotal('RegistrationFailures')).toBe(1);
    expect(world.allLogText()).toContain('runner group \\"Bulders\\" does not exist for acme');
  });

  test('a warm start registers the same way', async () => {
    const world = new World();
    await createRegistrationHandler(world.deps())(lifecycleEvent({ origin: 'WarmPool' }));
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
    expect(world.callsOf('generateJitConfig')).toHaveLength(1);
  });

  test('a launch into the warm pool makes no GitHub call and completes nothing', async () => {
    const world = new World();
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent({ destination: 'WarmPool' }));
    expect(report.outcome).toBe('left-to-instance');
    expect(world.calls).toEqual([]);
  });

  test('a persistent fleet stores a registration token with the URL, labels and group', async () => {
    const world = new World();
    const config = runtimeConfig([fleetEntry({ mode: 'persistent', runnerGroupName: 'Builders' })]);
    await createRegistrationHandler(world.deps(config))(lifecycleEvent());
    expect(world.order()).toEqual(['createRegistrationToken', 'putInstanceSecret', 'completeLifecycleAction']);
    expect(JSON.parse(world.secrets.get(`github-runner-fleet/linux/${ID}`)!.value)).toEqual({
      mode: 'persistent',
      runnerName: `linux-${ID}`,
      registrationToken: 'REGTOKEN-SECRET',
      registrationUrl: 'https://github.com/acme',
      labels: 'linux,x64,fleet-linux',
      runnerGroupName: 'Builders',
    });
  });

  test('a 409 for an idle runner of the same name deletes it and registers again', async () => {
    const world = new World();
    world.runners = [runner({ id: 7, name: `linux-${ID}`, busy: false })];
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());
    expect(report.outcome).toBe('registered');
    expect(world.order()).toEqual(['generateJitConfig', 'findRunnerByName', 'deleteRunner', 'generateJitConfig', 'putInstanceSecret', 'completeLifecycleAction']);
  });

  test('a 409 for a busy runner of the same name abandons (never deletes a busy runner)', async () => {
    const world = new World();
    world.runners = [runner({ id: 7, name: `linux-${ID}`, busy: true })];
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());
    expect(report.outcome).toBe('abandoned');
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.completed.map((c) => c.result)).toEqual(['ABANDON']);
  });

  test.each([
    ['generateJitConfig', () => new GitHubError('Server Error', 'server', 502)],
    ['generateJitConfig', () => new GitHubError('labels invalid', 'validation', 422)],
    ['generateJitConfig', () => new GitHubError('rate limited', 'rate-limited', 429)],
    ['generateJitConfig', () => new GitHubError('timeout', 'network')],
    ['putInstanceSecret', () => Object.assign(new Error('AccessDenied'), { name: 'AccessDeniedException' })],
    ['completeLifecycleAction', () => Object.assign(new Error('Throttling'), { name: 'Throttling' })],
  ])('a failure in %s abandons the launch action once, counts it, and leaves nothing behind', async (method, error) => {
    const world = new World();
    world.faults.add(method, error);
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());

    expect(report.outcome).toBe('abandoned');
    const completions = world.callsOf('completeLifecycleAction').map((c) => c.args[1]);
    expect(completions[completions.length - 1]).toBe('ABANDON');
    expect(world.completed.filter((c) => c.result === 'ABANDON')).toHaveLength(1);
    expect(world.metricTotal('RegistrationFailures')).toBe(1);
    expect(world.runners).toEqual([]); // a created runner was deleted again
    expect(world.secrets.size).toBe(0); // no secret left behind
    expect(world.allLogText()).not.toMatch(/JITCONFIG-SECRET|REGTOKEN-SECRET/);
  });

  test('a persistent fleet failing after the token leaves no secret and abandons', async () => {
    const world = new World();
    world.faults.add('completeLifecycleAction', () => new Error('boom'));
    await createRegistrationHandler(world.deps(runtimeConfig([fleetEntry({ mode: 'persistent' })])))(lifecycleEvent());
    expect(world.secrets.size).toBe(0);
    expect(world.completed.map((c) => c.result)).toEqual(['ABANDON']);
  });

  test('if even ABANDON fails, the error reaches EventBridge (retries, then the dead-letter queue)', async () => {
    const world = new World();
    world.faults.add('generateJitConfig', () => new GitHubError('down', 'server', 503));
    world.faults.add('completeLifecycleAction', () => new Error('AWS down'));
    await expect(createRegistrationHandler(world.deps())(lifecycleEvent())).rejects.toThrow('AWS down');
  });

  test('secrets never reach the logs on success either', async () => {
    const world = new World();
    await createRegistrationHandler(world.deps())(lifecycleEvent());
    await createRegistrationHandler(world.deps(runtimeConfig([fleetEntry({ mode: 'persistent' })])))(lifecycleEvent({ instanceId: 'i-0fffffffffffffff0' }));
    expect(world.logs.length).toBeGreaterThan(0);
    expect(world.allLogText()).not.toMatch(/JITCONFIG-SECRET|REGTOKEN-SECRET/);
  });

  test.each([
    [lifecycleEvent({ group: 'other-asg' })],
    [{ ...lifecycleEvent(), detail: { ...lifecycleEvent().detail, LifecycleTransition: 'autoscaling:TEST_NOTIFICATION' } }],
    [lifecycleEvent({ type: 'terminate' })],
  ])('%#: events not for registration are ignored without side effects', async (event) => {
    const world = new World();
    const report = await createRegistrationHandler(world.deps())(event);
    expect(report.outcome).toBe('ignored');
    expect(world.calls).toEqual([]);
  });
});
