import type { Assumptions } from './assumptions';
import type { Random, SimClock } from './engine';

/** A workflow job of a scenario. */
export interface SimJob {
  readonly id: number;
  /** Simulated second it was queued. */
  readonly queuedAt: number;
  /** Seconds it runs once started. */
  readonly duration: number;
  readonly labels: string[];
  startedAt?: number;
  endedAt?: number;
  runner?: SimRunner;
}

/** A registered runner as GitHub knows it. */
export interface SimRunner {
  readonly id: number;
  readonly name: string;
  readonly instanceId: string;
  readonly labels: string[];
  readonly answersTo: Set<string>;
  job?: SimJob;
  /** When GitHub's `busy` flag starts to say true for the current job (it lags the start). */
  busyVisibleAt?: number;
}

/** What the GitHub model tells the rest of the world. */
export interface GitHubListener {
  /** A job started on a runner (the runner's job-started hook runs on its instance). */
  jobStarted(job: SimJob, runner: SimRunner): void;
  /** A job ended; an ephemeral runner is gone from GitHub afterwards. */
  jobEnded(job: SimJob, runner: SimRunner): void;
  /** A webhook delivery for a job event (`queued`, `in_progress`, `completed`), after the delivery delay. */
  deliver(action: 'queued' | 'in_progress' | 'completed', job: SimJob): void | Promise<void>;
}

/**
 * GitHub as the fleet sees it: jobs wait in a queue until an idle runner takes one (after a short
 * assignment delay, oldest job first); a started job's runner reads `busy: false` for a while; an
 * ephemeral runner is removed once its job ends; webhook deliveries follow each job event.
 */
export class SimGitHub {
  readonly runners = new Map<string, SimRunner>();
  readonly jobs: SimJob[] = [];
  private readonly queue: SimJob[] = [];
  private nextRunnerId = 1;
  private assignScheduled = false;

  constructor(
    private readonly clock: SimClock,
    private readonly random: Random,
    private readonly assume: Assumptions,
    private readonly ephemeral: boolean,
    private readonly listener: GitHubListener,
  ) {}

  /** A job is queued now. */
  enqueue(job: SimJob): void {
    this.jobs.push(job);
    this.queue.push(job);
    this.clock.after(this.random.between(this.assume.deliveryDelay), () => this.listener.deliver('queued', job));
    this.scheduleAssign();
  }

  /**
   * A runner registered and came online (its instance went into service). `answersTo` is every label it
   * answers to, lower-cased (its own and the runner application's defaults).
   */
  register(instanceId: string, name: string, labels: string[], answersTo: Set<string>): SimRunner {
    const runner: SimRunner = { id: this.nextRunnerId++, name, instanceId, labels, answersTo };
    this.runners.set(name, runner);
    this.scheduleAssign();
    return runner;
  }

  /** The runner was stopped and deregistered (its instance retired it, idle). */
  remove(name: string): void {
    const runner = this.runners.get(name);
    if (runner && !runner.job) {
      this.runners.delete(name);
    }
  }

  /** `busy` as the REST API reports it now. */
  reportedBusy(runner: SimRunner): boolean {
    return runner.job !== undefined && runner.busyVisibleAt !== undefined && this.clock.now >= runner.busyVisibleAt;
  }

  /** Where a job stands (`GET /repos/{o}/{r}/actions/jobs/{id}`). */
  statusOf(jobId: number): 'queued' | 'in_progress' | 'completed' | 'not-found' {
    const job = this.jobs.find((j) => j.id === jobId);
    if (!job) return 'not-found';
    if (job.endedAt !== undefined) return 'completed';
    return job.startedAt !== undefined ? 'in_progress' : 'queued';
  }

  /** Jobs still waiting for a runner. */
  waiting(): number {
    return this.queue.length;
  }

  private scheduleAssign(): void {
    if (this.assignScheduled) return;
    this.assignScheduled = true;
    this.clock.after(this.random.between(this.assume.assignDelay), () => {
      this.assignScheduled = false;
      this.assign();
    });
  }

  /** Each idle runner takes the oldest waiting job whose labels it has (GitHub matches every label). */
  private assign(): void {
    for (const runner of this.runners.values()) {
      if (this.queue.length === 0) return;
      if (runner.job) continue;
      const index = this.queue.findIndex((j) => j.labels.every((l) => runner.answersTo.has(l.toLowerCase())));
      if (index < 0) continue;
      const [job] = this.queue.splice(index, 1);
      job.startedAt = this.clock.now;
      job.runner = runner;
      runner.job = job;
      runner.busyVisibleAt = this.clock.now + this.random.between(this.assume.busyLag);
      this.listener.jobStarted(job, runner);
      this.clock.after(this.random.between(this.assume.deliveryDelay), () => this.listener.deliver('in_progress', job));
      this.clock.after(job.duration, () => this.end(job, runner));
    }
  }

  private end(job: SimJob, runner: SimRunner): void {
    job.endedAt = this.clock.now;
    runner.job = undefined;
    runner.busyVisibleAt = undefined;
    if (this.ephemeral) {
      this.runners.delete(runner.name);
    } else {
      this.scheduleAssign();
    }
    this.listener.jobEnded(job, runner);
    this.clock.after(this.random.between(this.assume.deliveryDelay), () => this.listener.deliver('completed', job));
  }
}
