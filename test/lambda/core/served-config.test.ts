import { withDirectoryFleets } from '../../../lambda/core/config';
import { createServedConfig, DIRECTORY_RETRY_MS, DIRECTORY_TTL_MS } from '../../../lambda/core/served-config';
import type { FleetDirectoryPort, LoggerPort } from '../../../lambda/ports';
import type { FleetRuntimeEntry } from '../../../src/contract';
import { FLEET_ENTRY_SCHEMA } from '../../../src/contract/runtime-schema';
import { toWire } from '../../../src/lifecycle/runtime-config';
import { fleetEntry, runtimeConfig } from '../fixtures';

const PATH = '/github-runner-fleet/Plane-Runners-ABCD1234/fleets/';

/** A fleet's directory parameter, as the construct writes it. */
function parameter(fleet: FleetRuntimeEntry): { name: string; value: string } {
  return { name: `${PATH}${fleet.name}`, value: JSON.stringify(toWire(FLEET_ENTRY_SCHEMA, fleet, '')) };
}

function remote(name: string): FleetRuntimeEntry {
  return fleetEntry({ name, autoScalingGroupName: `github-runner-fleet-${name}`, fleetLabel: `fleet-${name}`, labels: ['linux', `fleet-${name}`], secretPrefix: `p/${name}/` });
}

/** A directory whose parameters the test sets, counting reads; `fail` makes the next reads throw. */
function directory(initial: Array<{ name: string; value: string }>) {
  const state = { parameters: initial, reads: 0, fail: false };
  const port: FleetDirectoryPort = {
    readParameters: async (path) => {
      state.reads++;
      expect(path).toBe(PATH);
      if (state.fail) throw new Error('ThrottlingException: Rate exceeded');
      return state.parameters;
    },
  };
  return { state, port };
}

function logger(): LoggerPort & { lines: Array<{ level: string; message: string; attributes?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; attributes?: Record<string, unknown> }> = [];
  return {
    lines,
    info: (message, attributes) => lines.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => lines.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => lines.push({ level: 'error', message, attributes }),
  };
}

describe('withDirectoryFleets: the fleets of other stacks beside the environment\'s', () => {
  test('each parameter decodes to the fleet the construct wrote, defaults restored', () => {
    const base = runtimeConfig([fleetEntry()]);
    const { config, problems } = withDirectoryFleets(base, [parameter(remote('b')), parameter(remote('a'))]);
    expect(problems).toEqual([]);
    // In the parameters' name order, after the environment's own.
    expect(config.fleets.map((f) => f.name)).toEqual([base.fleets[0].name, 'a', 'b']);
    expect(config.fleets[1]).toEqual(remote('a'));
  });

  test('a bad parameter is left out and named; the others are served', () => {
    const base = runtimeConfig([fleetEntry()]);
    const { config, problems } = withDirectoryFleets(base, [
      { name: `${PATH}x`, value: 'not json' },
      { name: `${PATH}y`, value: '[]' },
      { name: `${PATH}z`, value: JSON.stringify({ name: 'z' }) },
      parameter(remote('ok')),
      parameter(base.fleets[0]),
    ]);
    expect(config.fleets.map((f) => f.name)).toEqual([base.fleets[0].name, 'ok']);
    expect(problems.filter((p) => !p.startsWith(`${PATH}z.`))).toEqual([
      `${PATH}${base.fleets[0].name}: fleet "${base.fleets[0].name}" is served already`,
      expect.stringMatching(new RegExp(`^${PATH}x: not JSON`)),
      `${PATH}y: expected a JSON object`,
    ]);
    // Every missing field of z is named.
    expect(problems).toContain(`${PATH}z.autoScalingGroupName: expected a non-empty string, got undefined`);
    expect(problems).toContain(`${PATH}z.instanceRoleName: expected a non-empty string, got undefined`);
  });
});

describe('ServedConfig: the environment\'s configuration with the fleet directory, read at most once a minute', () => {
  const base = { ...runtimeConfig([fleetEntry()]), fleetDirectory: PATH };

  test('without a directory, the environment\'s configuration as it is, and nothing read', async () => {
    const dir = directory([]);
    const plain = runtimeConfig([fleetEntry()]);
    const served = createServedConfig(plain, { directory: dir.port, logger: logger() });
    expect(await served.current()).toBe(plain);
    expect(dir.state.reads).toBe(0);
  });

  test('read on first use, served unchanged within the minute, read again after it; the same object while nothing changed', async () => {
    let now = 0;
    const dir = directory([parameter(remote('a'))]);
    const served = createServedConfig(base, { directory: dir.port, logger: logger(), now: () => now });
    const first = await served.current();
    expect(first.fleets.map((f) => f.name)).toEqual([base.fleets[0].name, 'a']);
    now = DIRECTORY_TTL_MS - 1;
    expect(await served.current()).toBe(first);
    expect(dir.state.reads).toBe(1);
    now = DIRECTORY_TTL_MS;
    expect(await served.current()).toBe(first);
    expect(dir.state.reads).toBe(2);
    dir.state.parameters = [parameter(remote('a')), parameter(remote('b'))];
    now = 2 * DIRECTORY_TTL_MS;
    const second = await served.current();
    expect(second).not.toBe(first);
    expect(second.fleets.map((f) => f.name)).toEqual([base.fleets[0].name, 'a', 'b']);
  });

  test('a caller that met an unknown fleet reads sooner (maxAgeMs)', async () => {
    let now = 0;
    const dir = directory([]);
    const served = createServedConfig(base, { directory: dir.port, logger: logger(), now: () => now });
    await served.current();
    dir.state.parameters = [parameter(remote('new'))];
    now = 5_000;
    expect((await served.current()).fleets.map((f) => f.name)).toEqual([base.fleets[0].name]);
    expect((await served.current(1_000)).fleets.map((f) => f.name)).toEqual([base.fleets[0].name, 'new']);
    expect(dir.state.reads).toBe(2);
  });

  test('a failed read serves the fleets read last, is logged, and is retried after a pause, not on every call', async () => {
    let now = 0;
    const log = logger();
    const dir = directory([parameter(remote('a'))]);
    const served = createServedConfig(base, { directory: dir.port, logger: log, now: () => now });
    const first = await served.current();
    dir.state.fail = true;
    now = DIRECTORY_TTL_MS;
    expect(await served.current()).toBe(first);
    now += DIRECTORY_RETRY_MS - 1;
    expect(await served.current(0)).toBe(first);
    expect(dir.state.reads).toBe(2);
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(['Fleet directory unreadable: serving the fleets read last']);
    dir.state.fail = false;
    now += 1;
    expect(await served.current(0)).toBe(first);
    expect(dir.state.reads).toBe(3);
  });

  test('at first, a failed read serves the environment\'s fleets', async () => {
    const dir = directory([]);
    dir.state.fail = true;
    const served = createServedConfig(base, { directory: dir.port, logger: logger(), now: () => 0 });
    expect(await served.current()).toBe(base);
  });

  test('concurrent callers share one read', async () => {
    const dir = directory([parameter(remote('a'))]);
    const served = createServedConfig(base, { directory: dir.port, logger: logger(), now: () => 0 });
    const [a, b, c] = await Promise.all([served.current(), served.current(), served.current()]);
    expect(dir.state.reads).toBe(1);
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  test('a bad parameter is logged as an error each time the directory changes, and the other fleets are served', async () => {
    const log = logger();
    const dir = directory([parameter(remote('a')), { name: `${PATH}bad`, value: '{' }]);
    const served = createServedConfig(base, { directory: dir.port, logger: log, now: () => 0 });
    expect((await served.current()).fleets.map((f) => f.name)).toEqual([base.fleets[0].name, 'a']);
    expect(log.lines.filter((l) => l.level === 'error')).toEqual([expect.objectContaining({
      message: 'Fleet directory: a parameter left out',
      attributes: expect.objectContaining({ problem: expect.stringMatching(new RegExp(`^${PATH}bad: not JSON`)) }),
    })]);
  });
});
