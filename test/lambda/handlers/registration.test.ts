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
    expect(world.order()).toEqual(['lifecycleStateOf', 'generateJitConfig', 'putInstanceSecret', 'completeLifecycleAction']);
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
    expect(world.order()).toEqual(['lifecycleStateOf', 'createRegistrationToken', 'putInstanceSecret', 'completeLifecycleAction']);
    expect(JSON.parse(world.secrets.get(`github-runner-fleet/linux/${ID}`)!.value)).toEqual({
      mode: 'persistent',
      runnerName: `linux-${ID}`,
      registrationToken: 'REGTOKEN-SECRET',
      registrationUrl: 'https://github.com/acme',
      labels: 'linux,x64,fleet-linux',
      runnerGroupName: 'Builders',
    });
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

/** What the instance does once its launch action continued: it reads and deletes its secret, starts its runner. */
function instanceStartsItsRunner(world: World, runnerStatus: { status: 'online' | 'offline'; busy: boolean } = { status: 'online', busy: false }): void {
  world.secrets.delete(`github-runner-fleet/linux/${ID}`);
  world.runners = world.runners.map((r) => (r.name === `linux-${ID}` ? { ...r, ...runnerStatus } : r));
}

/** A gate: `wait()` resolves once `open()` is called (explicit synchronisation, no sleeps). */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

/** The world's deps, with lifecycleStateOf answering `states` in turn (the last one for ever). */
function withStates(world: World, states: Array<string | undefined>) {
  const deps = world.deps();
  const answers = [...states];
  return {
    ...deps,
    autoScaling: {
      ...deps.autoScaling,
      lifecycleStateOf: async (instanceId: string) => {
        await world.autoScaling.lifecycleStateOf!(instanceId); // recorded
        return answers.length > 1 ? answers.shift() : answers[0];
      },
    },
  };
}

describe('registration handler: duplicated, reordered and late launch events', () => {
  test.each(['online', 'busy'] as const)('a duplicate arriving after the instance is InService with its runner %s: nothing touched, not counted', async (how) => {
    const world = new World();
    const handler = createRegistrationHandler(world.deps());
    await handler(lifecycleEvent());
    instanceStartsItsRunner(world, how === 'online' ? { status: 'online', busy: false } : { status: 'online', busy: true });
    const runnersBefore = [...world.runners];
    world.calls.length = 0;

    const report = await handler(lifecycleEvent());

    expect(report).toMatchObject({ outcome: 'duplicate', reason: 'the instance is InService' });
    expect(world.runners).toEqual(runnersBefore);
    expect(world.order()).toEqual(['lifecycleStateOf']);
    expect(world.secrets.size).toBe(0);
    expect(world.metricTotal('Registrations')).toBe(1);
    expect(world.metricTotal('DuplicateLaunchEvents')).toBe(1);
  });

  test('the same duplicate when AWS cannot say the instance\'s state: the 409 finds no secret, the online runner is not deleted', async () => {
    const world = new World();
    const handler = createRegistrationHandler(world.deps());
    await handler(lifecycleEvent());
    instanceStartsItsRunner(world);
    world.faults.add('lifecycleStateOf', () => Object.assign(new Error('not authorized to perform autoscaling:DescribeAutoScalingInstances'), { name: 'AccessDenied' }));

    const report = await handler(lifecycleEvent());

    expect(report.outcome).toBe('in-flight');
    expect(world.runners.map((r) => r.status)).toEqual(['online']);
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
    expect(world.secrets.size).toBe(0);
    expect(world.metricTotal('Registrations')).toBe(1);
  });

  test('two deliveries at once, the second after the first wrote the secret: one completes, the other is a duplicate; counted once', async () => {
    const world = new World();
    const first = gate();
    const secretWritten = gate();
    const deps = world.deps();
    const slowFirst = {
      ...deps,
      secrets: {
        ...deps.secrets,
        putInstanceSecret: async (secret: Parameters<typeof deps.secrets.putInstanceSecret>[0]) => {
          await deps.secrets.putInstanceSecret(secret);
          secretWritten.open();
          await first.wait(); // held between the secret and CONTINUE
        },
      },
    };
    const a = createRegistrationHandler(slowFirst)(lifecycleEvent());
    await secretWritten.wait();

    const b = await createRegistrationHandler(world.deps())(lifecycleEvent());
    first.open();
    const aReport = await a;

    expect(b.outcome).toBe('registered'); // 409, the secret exists: CONTINUE
    expect(aReport.outcome).toBe('duplicate'); // its CONTINUE found no action, the instance is in service
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.runners).toHaveLength(1);
    expect(world.secrets.size).toBe(1); // the instance still has to read it
    expect(world.metricTotal('Registrations')).toBe(1);
    expect(world.metricTotal('RegistrationFailures')).toBe(0);
  });

  test('two deliveries at once, the second before the first wrote the secret: the second leaves it to the first', async () => {
    const world = new World();
    const jitCreated = gate();
    const resume = gate();
    const deps = world.deps();
    const slowFirst = {
      ...deps,
      github: {
        ...deps.github,
        generateJitConfig: async (request: Parameters<typeof deps.github.generateJitConfig>[0]) => {
          const created = await deps.github.generateJitConfig(request);
          jitCreated.open();
          await resume.wait(); // held between the JIT answer and the secret
          return created;
        },
      },
    };
    const a = createRegistrationHandler(slowFirst)(lifecycleEvent());
    await jitCreated.wait();

    const b = await createRegistrationHandler(world.deps())(lifecycleEvent());
    resume.open();
    const aReport = await a;

    expect(b.outcome).toBe('in-flight');
    expect(aReport.outcome).toBe('registered');
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
    expect(JSON.parse(world.secrets.get(`github-runner-fleet/linux/${ID}`)!.value).jitConfig).toBe('JITCONFIG-SECRET-100');
    expect(world.metricTotal('Registrations')).toBe(1);
    expect(world.metricTotal('LaunchConflictsLeftInFlight')).toBe(1);
  });

  test('a 409 while pending and no secret, nobody in flight (a stale runner): nothing deleted, nothing completed', async () => {
    const world = new World();
    world.runners = [runner({ id: 7, name: `linux-${ID}`, status: 'offline', busy: false })];

    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());

    expect(report.outcome).toBe('in-flight');
    expect(world.order()).toEqual(['lifecycleStateOf', 'generateJitConfig', 'instanceSecretExists']);
    expect(world.runners).toHaveLength(1);
    expect(world.completed).toEqual([]);
  });

  test.each([
    ['Terminating:Wait', 'Terminating:Wait'],
    ['gone', undefined],
    ['back in the warm pool', 'Warmed:Stopped'],
  ])('a launch event arriving after the instance is %s (reordered): nothing done', async (_name, state) => {
    const world = new World();
    world.lifecycleStates.set(ID, state ?? null);
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());
    expect(report.outcome).toBe('duplicate');
    expect(world.order()).toEqual(['lifecycleStateOf']);
  });

  test('a persistent fleet: a duplicate after InService writes no new secret (the instance deleted its own)', async () => {
    const world = new World();
    const handler = createRegistrationHandler(world.deps(runtimeConfig([fleetEntry({ mode: 'persistent' })])));
    await handler(lifecycleEvent());
    world.secrets.clear();

    const report = await handler(lifecycleEvent());

    expect(report.outcome).toBe('duplicate');
    expect(world.callsOf('createRegistrationToken')).toHaveLength(1);
    expect(world.secrets.size).toBe(0);
  });
});

describe('registration handler: expired actions and lost answers', () => {
  test('the launch action expired before CONTINUE: not registered, not counted; its runner and secret are removed', async () => {
    const world = new World();
    world.missingActions.add(`github-runner-fleet-launch/${ID}`);
    const deps = withStates(world, ['Pending:Wait', 'Terminating:Wait']);

    const report = await createRegistrationHandler(deps)(lifecycleEvent());

    expect(report.outcome).toBe('expired');
    expect(world.runners).toEqual([]);
    expect(world.secrets.size).toBe(0);
    expect(world.metricTotal('Registrations')).toBe(0);
    expect(world.metricTotal('ExpiredLaunchActions')).toBe(1);
  });

  test('CONTINUE finds no action because another invocation completed it: a duplicate, nothing removed', async () => {
    const world = new World();
    world.missingActions.add(`github-runner-fleet-launch/${ID}`);
    const deps = withStates(world, ['Pending:Wait', 'InService']);

    const report = await createRegistrationHandler(deps)(lifecycleEvent());

    expect(report.outcome).toBe('duplicate');
    expect(world.runners).toHaveLength(1);
    expect(world.secrets.size).toBe(1);
    expect(world.metricTotal('Registrations')).toBe(0);
  });

  test('a late event of an earlier launch, for an instance back from the warm pool and launching again: its registration continues the action that waits now', async () => {
    const world = new World();
    // The late event carries the earlier launch's token; the instance now waits on a later launch action.
    world.staleTokens.add('token-old');
    const report = await createRegistrationHandler(world.deps())(lifecycleEvent({ token: 'token-old' }));

    expect(report.outcome).toBe('registered');
    expect(world.completed).toEqual([{ action: expect.objectContaining({ instanceId: ID, token: undefined }), result: 'CONTINUE' }]);
    expect(world.secrets.size).toBe(1);
    expect(world.metricTotal('Registrations')).toBe(1);
  });

  test('CONTINUE finds no action and AWS cannot say why: expired, but nothing removed without evidence', async () => {
    const world = new World();
    world.missingActions.add(`github-runner-fleet-launch/${ID}`);
    const deps = world.deps();
    let reads = 0;
    const report = await createRegistrationHandler({
      ...deps,
      autoScaling: {
        ...deps.autoScaling,
        lifecycleStateOf: async () => {
          if (reads++ > 0) throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
          return 'Pending:Wait';
        },
      },
    })(lifecycleEvent());

    expect(report.outcome).toBe('expired');
    expect(world.runners).toHaveLength(1);
    expect(world.secrets.size).toBe(1);
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.metricTotal('Registrations')).toBe(0);
  });

  test('a JIT call that timed out at the client after GitHub created the runner: ABANDON, then the runner found by name is removed', async () => {
    const world = new World();
    world.faults.add('generateJitConfig', () => {
      world.runners.push(runner({ id: 42, name: `linux-${ID}`, status: 'offline', busy: false }));
      return new GitHubError('POST /orgs/acme/actions/runners/generate-jitconfig failed before GitHub answered: timeout', 'network');
    });

    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());

    expect(report.outcome).toBe('abandoned');
    expect(world.order()).toEqual([
      'lifecycleStateOf', 'generateJitConfig', 'completeLifecycleAction', 'findRunnerByName', 'deleteRunner', 'deleteInstanceSecret',
    ]);
    expect(world.completed.map((c) => c.result)).toEqual(['ABANDON']);
    expect(world.runners).toEqual([]);
    expect(world.metricTotal('RegistrationFailures')).toBe(1);
  });

  test('a lost JIT answer while a concurrent invocation already continued: ABANDON finds no action, nothing removed', async () => {
    const world = new World();
    world.missingActions.add(`github-runner-fleet-launch/${ID}`);
    world.runners = [runner({ id: 42, name: `linux-${ID}`, status: 'online', busy: false })];
    world.faults.add('generateJitConfig', () => new GitHubError('timeout', 'network'));
    const deps = withStates(world, ['Pending:Wait', 'InService']);

    const report = await createRegistrationHandler(deps)(lifecycleEvent());

    expect(report.outcome).toBe('duplicate');
    expect(world.runners).toHaveLength(1);
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.callsOf('deleteInstanceSecret')).toEqual([]);
    expect(world.metricTotal('RegistrationFailures')).toBe(0);
  });

  test('after an ABANDON that took effect, a runner of the name that is online or busy is still never deleted', async () => {
    const world = new World();
    world.faults.add('generateJitConfig', () => {
      world.runners.push(runner({ id: 42, name: `linux-${ID}`, status: 'offline', busy: true }));
      return new GitHubError('Bad Gateway', 'server', 502);
    });

    const report = await createRegistrationHandler(world.deps())(lifecycleEvent());

    expect(report.outcome).toBe('abandoned');
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.runners).toHaveLength(1);
  });

  test('a definite refusal (422) looks for no runner: GitHub created none', async () => {
    const world = new World();
    world.faults.add('generateJitConfig', () => new GitHubError('labels invalid', 'validation', 422));
    await createRegistrationHandler(world.deps())(lifecycleEvent());
    expect(world.callsOf('findRunnerByName')).toEqual([]);
    expect(world.callsOf('deleteInstanceSecret')).toHaveLength(1);
  });
});
