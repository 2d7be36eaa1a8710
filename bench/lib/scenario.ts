/**
 * One benchmark scenario: a control plane (three functions, one GitHub connection, N fleets) against the
 * fake GitHub server, played over simulated time.
 */
import { performance } from 'perf_hooks';
import { AwsWorld, CountingLogger, CountingMetrics } from './aws-world';
import { classifyRequest, RequestTally, TallySnapshot } from './requests';
import { SimulatedClock } from './sim-clock';
import { createGitHubPort } from '../../lambda/adapters/github';
import { parseFleetConfig } from '../../lambda/core/config';
import { LAUNCH_DETAIL_TYPE, LifecycleEventBridgeEvent, TERMINATE_DETAIL_TYPE } from '../../lambda/core/lifecycle-event';
import type { HandlerDeps } from '../../lambda/handlers/deps';
import { createDeregistrationHandler, DeregistrationReport } from '../../lambda/handlers/deregistration';
import { createIdleMetricHandler } from '../../lambda/handlers/idle-metric';
import { createRegistrationHandler } from '../../lambda/handlers/registration';
import { FleetRuntimeConfig, FleetRuntimeEntry, LAUNCH_HOOK_NAME, runnerNameFor, TERMINATE_HOOK_NAME } from '../../src/contract';
import { FakeGitHubServer, RecordedRequest, startFakeGitHub } from '../../test/fixtures/fake-github-server';
import { fleetEntry } from '../../test/lambda/fixtures';

export const SWEEP_EVERY_MINUTES = 5;
/** Share of the runners replaced (one termination and one registration each) per hour. */
export const REPLACED_PER_HOUR = 0.1;
/** Every fourth seeded runner is running a job (busy runners are never picked for replacement). */
export const BUSY_EVERY = 4;
/**
 * Simulated minutes played before the measured window and not counted: the cold starts (one App token
 * per function) happen here, so the window shows the steady state.
 */
export const WARMUP_MINUTES = 5;

const MINUTE_MS = 60_000;
const ENVIRONMENT = { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' };

export const FUNCTIONS = ['idle-metric', 'deregistration', 'registration'] as const;
export type FunctionName = typeof FUNCTIONS[number];

export interface Scenario {
  readonly fleets: number;
  readonly runners: number;
}

export interface ScenarioResult extends Scenario {
  readonly minutes: number;
  /** Requests received in the measured window. */
  readonly total: TallySnapshot;
  readonly perFunction: Record<FunctionName, TallySnapshot & { readonly invocations: number }>;
  /** Installation tokens minted in the measured window: by which function, at which offset into it. */
  readonly mints: ReadonlyArray<{ readonly fn: FunctionName; readonly atMs: number }>;
  /** Installation tokens minted during the warm-up (the cold starts). */
  readonly warmupMints: number;
  readonly wallMs: number;
  /** Memory of the scenario's process before the scenario started (modules loaded) and at its peak. */
  readonly memory: { readonly baseHeapUsed: number; readonly baseRss: number; readonly peakHeapUsed: number; readonly peakRss: number };
  /** Anything that did not go as it would for a healthy control plane (expected empty). */
  readonly problems: string[];
}

/** One event of the simulated timeline, at `atMs` from the start of the measured window (negative: warm-up). */
interface SimEvent {
  readonly atMs: number;
  readonly kind: 'idle-metric' | 'sweep' | 'replace';
}

/** Runs one scenario on a simulated clock installed for its duration (one scenario per process at a time). */
export async function runScenario(scenario: Scenario, minutes: number): Promise<ScenarioResult> {
  const clock = new SimulatedClock();
  clock.install();
  const server = await startFakeGitHub();
  try {
    const baseline = process.memoryUsage();
    const started = performance.now();
    const world = new AwsWorld(() => clock.date());
    const fleets = fleetEntries(scenario.fleets);
    const replaceable = seedRunners(server, world, fleets, scenario.runners, clock.date());
    const config = parseFleetConfig(JSON.stringify(runtimeConfig(server.url, fleets))); // validated, as at cold start
    const windowStart = clock.now() + WARMUP_MINUTES * MINUTE_MS;
    const plane = new ControlPlane(config, server, world, clock, windowStart);

    for (const event of timeline(scenario.runners, minutes)) {
      clock.advanceTo(windowStart + event.atMs);
      if (event.kind === 'idle-metric') {
        await plane.idleTick(scenario.runners);
      } else if (event.kind === 'sweep') {
        await plane.sweep();
      } else {
        const old = replaceable.shift();
        if (!old) {
          plane.problems.push('no idle runner left to replace');
          continue;
        }
        replaceable.push(await plane.replace(old.fleet, old.instanceId));
      }
    }
    plane.finalChecks();
    return {
      ...scenario,
      minutes,
      total: plane.total.snapshot(),
      perFunction: Object.fromEntries(FUNCTIONS.map((fn) => [fn, { ...plane.perFunction[fn].snapshot(), invocations: plane.invocations[fn] }])) as ScenarioResult['perFunction'],
      mints: plane.mints,
      warmupMints: plane.warmupMints,
      wallMs: performance.now() - started,
      memory: { baseHeapUsed: baseline.heapUsed, baseRss: baseline.rss, peakHeapUsed: plane.peakHeapUsed, peakRss: plane.peakRss },
      problems: plane.problems,
    };
  } finally {
    await server.stop();
    clock.uninstall();
  }
}

/** Fleets named linux01, linux02, ... with the label `fleet-<name>`, as the constructs would configure them. */
function fleetEntries(count: number): FleetRuntimeEntry[] {
  return Array.from({ length: count }, (_, i) => fleetEntry({ name: `linux${String(i + 1).padStart(2, '0')}` }));
}

function runtimeConfig(apiUrl: string, fleets: FleetRuntimeEntry[]): FleetRuntimeConfig {
  return {
    version: 1,
    github: { scope: 'organization', owner: 'acme', apiUrl, secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:github-app-AbCdEf', auth: 'app' },
    fleets,
  };
}

/**
 * `count` runners dealt round-robin over the fleets, each with its fleet's labels, named
 * `<fleet>-<instance id>`, online, every fourth busy; each with its instance in service and its secret
 * (written an hour ago). Returns the idle ones: the candidates for replacement, in order.
 */
function seedRunners(
  server: FakeGitHubServer, world: AwsWorld, fleets: FleetRuntimeEntry[], count: number, now: Date,
): Array<{ fleet: FleetRuntimeEntry; instanceId: string }> {
  const anHourAgo = new Date(now.getTime() - 60 * MINUTE_MS);
  const idle: Array<{ fleet: FleetRuntimeEntry; instanceId: string }> = [];
  for (let i = 0; i < count; i++) {
    const fleet = fleets[i % fleets.length];
    const instanceId = world.newInstanceId();
    const busy = i % BUSY_EVERY === 0;
    server.addRunner({ name: runnerNameFor(fleet.name, instanceId), status: 'online', busy, ephemeral: true, labelNames: fleet.labels });
    world.setInstance(fleet.autoScalingGroupName, instanceId, 'InService');
    world.seedSecret(fleet, instanceId, anHourAgo);
    if (!busy) {
      idle.push({ fleet, instanceId });
    }
  }
  return idle;
}

/**
 * The schedule, warm-up included: idle-metric at the top of every minute, the sweep every fifth minute
 * just after it, and replacements evenly spread (10% of the runners per hour).
 */
function timeline(runners: number, minutes: number): SimEvent[] {
  const events: SimEvent[] = [];
  for (let m = -WARMUP_MINUTES; m < minutes; m++) {
    events.push({ atMs: m * MINUTE_MS, kind: 'idle-metric' });
    if (m % SWEEP_EVERY_MINUTES === 0) {
      events.push({ atMs: m * MINUTE_MS, kind: 'sweep' });
    }
  }
  const spacing = 60 * MINUTE_MS / (runners * REPLACED_PER_HOUR);
  for (let at = -WARMUP_MINUTES * MINUTE_MS + spacing / 2; at < minutes * MINUTE_MS; at += spacing) {
    events.push({ atMs: Math.round(at), kind: 'replace' });
  }
  return events.sort((a, b) => a.atMs - b.atMs); // stable: idle-metric before the sweep of the same minute
}

/**
 * The control plane: three functions, each composed as its cold start would compose it, with its own
 * GitHub port (its own Octokit client and App token cache), as three Lambda functions have.
 */
class ControlPlane {
  readonly logger = new CountingLogger();
  readonly metrics = new CountingMetrics();
  readonly total = new RequestTally();
  readonly perFunction = Object.fromEntries(FUNCTIONS.map((fn) => [fn, new RequestTally()])) as Record<FunctionName, RequestTally>;
  readonly invocations = Object.fromEntries(FUNCTIONS.map((fn) => [fn, 0])) as Record<FunctionName, number>;
  readonly mints: Array<{ fn: FunctionName; atMs: number }> = [];
  readonly problems: string[] = [];
  warmupMints = 0;
  peakHeapUsed = 0;
  peakRss = 0;

  private readonly idleMetric: ReturnType<typeof createIdleMetricHandler>;
  private readonly deregistration: ReturnType<typeof createDeregistrationHandler>;
  private readonly registration: ReturnType<typeof createRegistrationHandler>;

  constructor(
    private readonly config: FleetRuntimeConfig,
    private readonly server: FakeGitHubServer,
    private readonly world: AwsWorld,
    private readonly clock: SimulatedClock,
    private readonly windowStart: number,
  ) {
    this.idleMetric = createIdleMetricHandler(this.deps());
    this.deregistration = createDeregistrationHandler(this.deps());
    this.registration = createRegistrationHandler(this.deps());
  }

  /**
   * One idle-metric invocation; every runner must be counted in a fleet (retired runners stay registered,
   * offline, until the next sweep removes them, so there may be more).
   */
  async idleTick(runners: number): Promise<void> {
    const report = await this.invoke('idle-metric', () => this.idleMetric());
    const counted = Object.values(report.counts ?? {}).reduce((n, c) => n + c.total, 0);
    if (!report.ok || counted < runners) {
      this.problems.push(`idle-metric: ok=${report.ok}, counted ${counted} of ${runners} runners (${report.error ?? ''})`);
    }
  }

  /**
   * One scheduled sweep; in steady state it removes only the runners and secrets of instances that
   * retired since the last one.
   */
  async sweep(): Promise<void> {
    const report = await this.invoke('deregistration', () => this.deregistration({ 'detail-type': 'Scheduled Event', 'source': 'aws.events' }));
    for (const fleet of report.type === 'sweep' ? report.fleets : []) {
      if (!fleet.ok || fleet.drained > 0) {
        this.problems.push(`sweep of ${fleet.fleet}: ${JSON.stringify(fleet)}`);
      }
    }
  }

  /**
   * Replaces an instance: it terminates and retires its idle runner itself (the listener stops: the
   * runner goes offline; the instance completes its terminate action), the terminate lifecycle event
   * reaches the deregistration function, which leaves it to the instance; the next sweep removes the
   * retired runner and secret. A new instance launches into service (launch event → registration) and
   * its runner comes online. Returns the new instance.
   */
  async replace(fleet: FleetRuntimeEntry, oldInstanceId: string): Promise<{ fleet: FleetRuntimeEntry; instanceId: string }> {
    this.world.setInstance(fleet.autoScalingGroupName, oldInstanceId, 'Terminating:Wait');
    const old = this.server.runners.find((r) => r.name === runnerNameFor(fleet.name, oldInstanceId));
    if (old) {
      old.status = 'offline';
    }
    const terminated: DeregistrationReport = await this.invoke('deregistration', () => this.deregistration(this.lifecycleEvent('terminate', fleet, oldInstanceId)));
    if (terminated.type !== 'termination' || terminated.decision !== 'leave-to-instance') {
      this.problems.push(`termination of ${oldInstanceId}: ${JSON.stringify(terminated)}`);
    }
    this.world.setInstance(fleet.autoScalingGroupName, oldInstanceId, 'Terminated');

    const instanceId = this.world.newInstanceId();
    this.world.setInstance(fleet.autoScalingGroupName, instanceId, 'Pending:Wait');
    const registered = await this.invoke('registration', () => this.registration(this.lifecycleEvent('launch', fleet, instanceId)));
    if (registered.outcome !== 'registered') {
      this.problems.push(`registration of ${instanceId}: ${JSON.stringify(registered)}`);
    }
    const runner = this.server.runners.find((r) => r.name === runnerNameFor(fleet.name, instanceId));
    if (runner) {
      runner.status = 'online'; // the instance booted and its runner connected
    }
    return { fleet, instanceId };
  }

  /** After the last event: the fake server and the logger must have nothing to report. */
  finalChecks(): void {
    if (this.total.failed > 0) {
      this.problems.push(`${this.total.failed} answer(s) other than 2xx`);
    }
    if (this.server.internalErrors.length > 0) {
      this.problems.push(`fake GitHub failed internally: ${this.server.internalErrors.map((e) => e.message).join('; ')}`);
    }
    const { warn, error } = this.logger.counts;
    if (warn + error > 0) {
      this.problems.push(`${warn} warning(s), ${error} error(s) logged: ${this.logger.problems.join(' / ')}`);
    }
  }

  /** What a function's cold start builds, with in-memory AWS ports: its own GitHub port and token cache. */
  private deps(): HandlerDeps {
    const now = () => this.clock.date();
    return {
      config: this.config,
      github: createGitHubPort(this.config.github, { readCredentials: async () => this.server.appCredentials(), logger: this.logger, now }),
      autoScaling: this.world.autoScaling,
      secrets: this.world.secretsPort,
      metrics: this.metrics,
      logger: this.logger,
      environment: ENVIRONMENT,
      now,
    };
  }

  /** Runs one invocation and, inside the measured window, charges the requests received meanwhile to `fn`. */
  private async invoke<T>(fn: FunctionName, call: () => Promise<T>): Promise<T> {
    const at = this.clock.now() - this.windowStart;
    const before = this.server.requests.length;
    const result = await call();
    const received = this.server.requests.slice(before);
    const mints = received.filter((r) => classifyRequest(r) === 'token').length;
    if (at < 0) {
      this.warmupMints += mints;
    } else {
      this.record(fn, at, received, mints);
    }
    const memory = process.memoryUsage();
    this.peakHeapUsed = Math.max(this.peakHeapUsed, memory.heapUsed);
    this.peakRss = Math.max(this.peakRss, memory.rss);
    return result;
  }

  private record(fn: FunctionName, at: number, received: RecordedRequest[], mints: number): void {
    this.total.add(received);
    this.perFunction[fn].add(received);
    this.invocations[fn]++;
    for (let i = 0; i < mints; i++) {
      this.mints.push({ fn, atMs: at });
    }
  }

  private lifecycleEvent(type: 'launch' | 'terminate', fleet: FleetRuntimeEntry, instanceId: string): LifecycleEventBridgeEvent {
    const launch = type === 'launch';
    return {
      'detail-type': launch ? LAUNCH_DETAIL_TYPE : TERMINATE_DETAIL_TYPE,
      'source': 'aws.autoscaling',
      'time': this.clock.date().toISOString(),
      'detail': {
        LifecycleActionToken: `${type}-${instanceId}`,
        AutoScalingGroupName: fleet.autoScalingGroupName,
        LifecycleHookName: launch ? LAUNCH_HOOK_NAME : TERMINATE_HOOK_NAME,
        EC2InstanceId: instanceId,
        LifecycleTransition: launch ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
        Origin: launch ? 'EC2' : 'AutoScalingGroup',
        Destination: launch ? 'AutoScalingGroup' : 'EC2',
      },
    };
  }
}
