import type { Assumptions } from './assumptions';
import type { Random, SimClock } from './engine';
import type { AlarmModel, PolicyModel, StepModel, WarmPoolModel } from './template';

/** Where a simulated instance is. `preparing` and `warm` are the warm pool's; the rest are the group's. */
export type InstanceState = 'preparing' | 'warm' | 'pending' | 'inservice' | 'terminating' | 'gone';

/** A job as the simulated instance sees it. */
export interface InstanceJob {
  readonly id: number;
}

export interface SimInstance {
  readonly id: string;
  state: InstanceState;
  protected: boolean;
  /** The job its runner runs, if any. */
  job?: InstanceJob;
  /** It ran a job (an ephemeral instance is never reused). */
  used: boolean;
  /** When it went into service (for warm-up). */
  inServiceAt?: number;
  /** When its runner got its current or last job, and how many jobs died with it (never, by design). */
  killedJobs: number;
}

/** What the group tells the rest of the world. */
export interface GroupListener {
  /** An instance went into service: its runner is registered and online. */
  inService(instance: SimInstance): void;
  /** An instance's runner must stop (scale-in of an idle instance): it is deregistered. */
  runnerStopped(instance: SimInstance): void;
}

export interface GroupOptions {
  readonly min: number;
  readonly max: number;
  readonly warmPool?: WarmPoolModel;
}

/**
 * An Auto Scaling group with a warm pool, as AWS documents it: desired capacity within min..max; the
 * group launches or terminates to match it (from the warm pool when it has a warm instance, else cold);
 * scale-in never picks an instance protected from scale-in (desired capacity still goes down, and the
 * group catches up when protection is lifted); a terminating instance whose runner runs a job holds its
 * terminate action until the job ends (the instance's retirement check); the warm pool is kept at
 * max(MinSize, MaxGroupPreparedCapacity - desired).
 */
export class SimGroup {
  desired = 0;
  readonly instances: SimInstance[] = [];
  private nextId = 1;
  /** Counts kept for the report. */
  readonly stats = { launchedWarm: 0, launchedCold: 0, scaleInTerminations: 0, blockedScaleIns: 0, decrementRefused: 0 };

  constructor(
    private readonly clock: SimClock,
    private readonly random: Random,
    private readonly assume: Assumptions,
    readonly options: GroupOptions,
    private readonly listener: GroupListener,
  ) {}

  get min(): number {
    return this.options.min;
  }

  get max(): number {
    return this.options.max;
  }

  /** Instances in the group and not terminating: what desired capacity is matched against. */
  active(): SimInstance[] {
    return this.instances.filter((i) => i.state === 'pending' || i.state === 'inservice');
  }

  /** Instances billed as fleet capacity: pending, in service or terminating. */
  inGroup(): SimInstance[] {
    return this.instances.filter((i) => i.state === 'pending' || i.state === 'inservice' || i.state === 'terminating');
  }

  /** The starting state: `inService` instances in service with idle runners, the warm pool full. */
  start(inService: number): void {
    this.desired = Math.min(this.max, Math.max(this.min, inService));
    for (let n = 0; n < this.desired; n++) {
      const instance = this.newInstance('inservice');
      instance.inServiceAt = -3600;
      this.listener.inService(instance);
    }
    for (let n = this.poolCount(); n < this.poolTarget(); n++) {
      this.newInstance('warm');
    }
  }

  /** SetDesiredCapacity (AWS refuses values outside min..max). */
  setDesired(value: number): void {
    if (!Number.isInteger(value) || value < this.min || value > this.max) {
      throw Object.assign(new Error(`New SetDesiredCapacity value ${value} is outside the group's min ${this.min} and max ${this.max}`), { name: 'ValidationError' });
    }
    this.desired = value;
    this.reconcile();
  }

  /** TerminateInstanceInAutoScalingGroup, by the instance itself after its job. */
  terminateInstance(instance: SimInstance, decrement: boolean): void {
    if (instance.state !== 'inservice' && instance.state !== 'pending') {
      return;
    }
    if (decrement) {
      if (this.desired - 1 < this.min) {
        this.stats.decrementRefused++;
        throw Object.assign(new Error(`Currently, desiredCapacity=${this.desired} and minSize=${this.min}. Terminating instance without replacement will violate group's min size constraint.`), { name: 'ValidationError' });
      }
      this.desired--;
    }
    this.beginTermination(instance, false);
    this.reconcile();
  }

  /** The job-started hook's SetInstanceProtection (fails on an instance not in service). */
  setProtection(instance: SimInstance, value: boolean): void {
    if (instance.state !== 'inservice') {
      return;
    }
    instance.protected = value;
    if (!value) {
      this.reconcile();
    }
  }

  /** The instance's runner finished its job: a held terminate action completes. */
  jobEnded(instance: SimInstance): void {
    instance.job = undefined;
    if (instance.state === 'terminating') {
      this.leave(instance, false);
    }
  }

  /** Launches or terminates to match the desired capacity; keeps the warm pool at its size. */
  reconcile(): void {
    const active = this.active();
    if (active.length < this.desired) {
      for (let n = active.length; n < this.desired; n++) {
        this.launch();
      }
    } else if (active.length > this.desired) {
      // Never a protected instance; instances not yet in service first, then idle ones, newest first.
      const candidates = active.filter((i) => !i.protected)
        .sort((a, b) => rank(a) - rank(b) || Number(b.id.slice(2)) - Number(a.id.slice(2)));
      for (const instance of candidates.slice(0, active.length - this.desired)) {
        this.stats.scaleInTerminations++;
        this.beginTermination(instance, true);
      }
    }
    this.keepPool();
  }

  private launch(): void {
    const warm = this.instances.find((i) => i.state === 'warm');
    const instance = warm ?? this.newInstance('pending');
    instance.state = 'pending';
    const delay = warm ? this.random.between(this.assume.warmStart) : this.random.between(this.assume.coldStart);
    if (warm) this.stats.launchedWarm++;
    else this.stats.launchedCold++;
    this.clock.after(delay, () => {
      if (instance.state === 'pending') {
        instance.state = 'inservice';
        instance.inServiceAt = this.clock.now;
        this.listener.inService(instance);
      }
    });
  }

  /** The terminate lifecycle hook: the instance retires its runner unless it runs a job, then leaves. */
  private beginTermination(instance: SimInstance, scaleIn: boolean): void {
    const wasInService = instance.state === 'inservice';
    instance.state = 'terminating';
    if (instance.job) {
      return; // held by heartbeats until the job ends (jobEnded)
    }
    if (wasInService) {
      this.listener.runnerStopped(instance);
    }
    this.leave(instance, scaleIn);
  }

  private leave(instance: SimInstance, scaleIn: boolean): void {
    if (instance.job) {
      instance.killedJobs++; // never by design: counted so that a model change that kills one shows
    }
    // ReuseOnScaleIn: an instance that ran no job goes back to the pool (which then sheds its oldest extra).
    const reuse = scaleIn && !instance.used && this.options.warmPool?.reuseOnScaleIn === true;
    this.clock.after(this.assume.shutdown, () => {
      instance.state = reuse ? 'warm' : 'gone';
      instance.protected = false;
      this.keepPool();
    });
  }

  private poolTarget(): number {
    const pool = this.options.warmPool;
    if (!pool) return 0;
    return Math.max(pool.minSize, (pool.maxGroupPreparedCapacity ?? this.max) - this.desired);
  }

  private poolCount(): number {
    return this.instances.filter((i) => i.state === 'warm' || i.state === 'preparing').length;
  }

  /** Prepares new pool instances (a cold boot each) or removes extra warm ones. */
  private keepPool(): void {
    const target = this.poolTarget();
    let count = this.poolCount();
    while (count < target) {
      const instance = this.newInstance('preparing');
      this.clock.after(this.random.between(this.assume.coldStart), () => {
        if (instance.state === 'preparing') instance.state = 'warm';
      });
      count++;
    }
    const warm = this.instances.filter((i) => i.state === 'warm');
    for (const extra of warm.slice(warm.length - Math.min(warm.length, Math.max(0, count - target)))) {
      extra.state = 'gone';
    }
    // Forget what is gone, to keep the lists short over a long run.
    for (let i = this.instances.length - 1; i >= 0; i--) {
      if (this.instances[i].state === 'gone') this.instances.splice(i, 1);
    }
  }

  private newInstance(state: InstanceState): SimInstance {
    const instance: SimInstance = { id: `i-${String(this.nextId++).padStart(8, '0')}`, state, protected: false, used: false, killedJobs: 0 };
    this.instances.push(instance);
    return instance;
  }

  /** Whether an instance counts as warming up for a step policy with warm-up `seconds`. */
  warming(seconds: number): number {
    if (seconds <= 0) return 0;
    const now = this.clock.now;
    return this.active().filter((i) => i.state === 'pending' || (i.inServiceAt !== undefined && now < i.inServiceAt + seconds)).length;
  }
}

function rank(instance: SimInstance): number {
  if (instance.state === 'pending') return 0;
  return instance.job ? 2 : 1;
}

/** CloudWatch: datapoints per metric, and alarms that evaluate them and invoke scaling policies. */
export class SimCloudWatch {
  private readonly points = new Map<string, Array<{ t: number; v: number }>>();
  /** Executions of each alarm's policies, for the report and the tests. */
  readonly executions: Array<{ t: number; alarm: string; value: number; before: number; after: number }> = [];

  constructor(private readonly clock: SimClock, private readonly assume: Assumptions) {}

  put(metric: string, value: number): void {
    const list = this.points.get(metric) ?? [];
    list.push({ t: this.clock.now, v: value });
    this.points.set(metric, list);
  }

  /** The statistic over the points in [start, end), or undefined when there is none. */
  statistic(metric: string, statistic: AlarmModel['statistic'], start: number, end: number): number | undefined {
    const values = (this.points.get(metric) ?? []).filter((p) => p.t >= start && p.t < end).map((p) => p.v);
    if (values.length === 0) return undefined;
    switch (statistic) {
      case 'Maximum': return Math.max(...values);
      case 'Minimum': return Math.min(...values);
      case 'Sum': return values.reduce((a, b) => a + b, 0);
      case 'SampleCount': return values.length;
      default: return values.reduce((a, b) => a + b, 0) / values.length;
    }
  }

  /**
   * Evaluates `alarm` on its cadence (every 10 s for a period under a minute, else every minute), each
   * time over the last `evaluationPeriods` complete periods, missing data not breaching. The policies
   * run on the transition to ALARM and again every `alarmRepeat` seconds while it stays there.
   */
  watch(alarm: AlarmModel, execute: (policy: PolicyModel, value: number, alarm: AlarmModel) => void): void {
    const cadence = alarm.period < 60 ? 10 : 60;
    let inAlarm = false;
    let lastAction = -Infinity;
    this.clock.every(cadence, cadence + this.assume.metricDelay, () => {
      const boundary = Math.floor((this.clock.now - this.assume.metricDelay) / cadence) * cadence;
      let breaching = 0;
      let latest: number | undefined;
      for (let k = 0; k < alarm.evaluationPeriods; k++) {
        const end = boundary - k * alarm.period;
        const value = this.statistic(alarm.metricName, alarm.statistic, end - alarm.period, end);
        if (value !== undefined && breaches(alarm, value)) {
          breaching++;
          latest ??= value;
        }
      }
      const nowAlarm = breaching >= alarm.datapointsToAlarm;
      if (nowAlarm && latest !== undefined && (!inAlarm || this.clock.now - lastAction >= this.assume.alarmRepeat)) {
        lastAction = this.clock.now;
        for (const policy of alarm.policies) execute(policy, latest, alarm);
      }
      inAlarm = nowAlarm;
    });
  }
}

export function breaches(alarm: Pick<AlarmModel, 'comparison' | 'threshold'>, value: number): boolean {
  switch (alarm.comparison) {
    case 'GreaterThanThreshold': return value > alarm.threshold;
    case 'GreaterThanOrEqualToThreshold': return value >= alarm.threshold;
    case 'LessThanThreshold': return value < alarm.threshold;
    default: return value <= alarm.threshold;
  }
}

/** The step whose interval holds `metric - threshold`. */
export function stepFor(steps: StepModel[], x: number): StepModel | undefined {
  return steps.find((s) => (s.lower === undefined || x >= s.lower) && (s.upper === undefined || x < s.upper));
}

/**
 * Executes scaling policies on a group as EC2 Auto Scaling documents them:
 * - step scaling, ChangeInCapacity: while instances warm up they are not part of the current capacity,
 *   so a repeated breach in the same step adds nothing and a larger step adds only the difference
 *   (new desired = max(desired, desired - warming + step)); scale-in is blocked while any instance warms up;
 * - ExactCapacity sets the step's value;
 * - simple scaling waits for the scaling activity to finish, then for its cooldown.
 */
export class SimPolicies {
  private readonly lockedUntil = new Map<PolicyModel, number>();

  constructor(private readonly clock: SimClock, private readonly group: SimGroup, private readonly cloudWatch: SimCloudWatch,
    private readonly assume: Assumptions) {}

  execute(policy: PolicyModel, value: number, alarm: AlarmModel): void {
    const before = this.group.desired;
    let target = before;
    if (policy.kind === 'simple') {
      if (this.clock.now < (this.lockedUntil.get(policy) ?? -Infinity)) return;
      const change = policy.adjustment ?? 0;
      target = policy.adjustmentType === 'ExactCapacity' ? change : before + change;
      // The activity (a launch, about a warm start; or a termination) then the cooldown.
      const activity = change > 0 ? this.assume.warmStart.max : this.assume.shutdown;
      this.lockedUntil.set(policy, this.clock.now + activity + (policy.cooldown ?? 300));
    } else {
      const step = stepFor(policy.steps, value - alarm.threshold);
      if (!step) return;
      if (policy.adjustmentType === 'ExactCapacity') {
        target = step.change;
      } else {
        const warmup = policy.warmup ?? this.assume.defaultWarmup;
        const warming = this.group.warming(warmup);
        if (step.change > 0) {
          target = Math.max(before, before - warming + step.change);
        } else if (warming > 0) {
          this.group.stats.blockedScaleIns++;
          return;
        } else {
          target = before + step.change;
        }
      }
    }
    target = Math.min(this.group.max, Math.max(this.group.min, target));
    this.cloudWatch.executions.push({ t: this.clock.now, alarm: alarm.id, value, before, after: target });
    if (target !== before) {
      this.group.setDesired(target);
    }
  }
}
