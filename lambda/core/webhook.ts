import type { FleetRuntimeEntry, GitHubRuntimeConfig } from '../../src/contract';
import type { JobStatus } from '../ports';

/** An HTTP answer of the webhook endpoint. */
export interface WebhookAnswer {
  readonly statusCode: number;
  /** A short reason, sent back to GitHub (visible in the App's or hook's recent deliveries). */
  readonly message: string;
}

/** The request as the endpoint received it, headers lower-cased, the body as the raw text GitHub signed. */
export interface WebhookRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

/** What is checked before the signature: method, size, presence of the signature. */
export type PreCheck = { readonly ok: true; readonly signature: string } | { readonly ok: false; readonly answer: WebhookAnswer };

export function preCheck(request: WebhookRequest, maxBodyBytes: number): PreCheck {
  if (request.method.toUpperCase() !== 'POST') {
    return { ok: false, answer: { statusCode: 405, message: 'only POST is accepted' } };
  }
  if (Buffer.byteLength(request.body, 'utf8') > maxBodyBytes) {
    return { ok: false, answer: { statusCode: 413, message: `the body is larger than ${maxBodyBytes} bytes` } };
  }
  const signature = request.headers['x-hub-signature-256'];
  if (!signature) {
    return { ok: false, answer: { statusCode: 401, message: 'X-Hub-Signature-256 is missing' } };
  }
  return { ok: true, signature };
}

/** A `workflow_job` delivery, reduced to what scaling needs. */
export interface WorkflowJobEvent {
  readonly action: 'queued' | 'waiting' | 'in_progress' | 'completed';
  readonly jobId: number;
  readonly labels: string[];
  /** `owner/repo`. */
  readonly repository: string;
  /** ISO 8601: when the job was queued. */
  readonly createdAt: string;
  /** ISO 8601: when it started (in_progress and completed only). */
  readonly startedAt?: string;
  readonly runnerName?: string;
  /** `organization.login`, when the payload has one (organization webhooks and App deliveries for an organization). */
  readonly organization?: string;
  /** `enterprise.slug`, when the payload has one (an enterprise webhook, or an organization of an enterprise). */
  readonly enterprise?: string;
  /** `installation.id`: the GitHub App installation the delivery is for (App webhooks only). */
  readonly installationId?: number;
}

export type ParsedDelivery =
  | { readonly kind: 'job'; readonly event: WorkflowJobEvent }
  | { readonly kind: 'ping' }
  | { readonly kind: 'ignored'; readonly answer: WebhookAnswer }
  | { readonly kind: 'malformed'; readonly answer: WebhookAnswer };

const JOB_ACTIONS = new Set(['queued', 'waiting', 'in_progress', 'completed']);

/**
 * Reads a verified delivery: `eventName` is `X-GitHub-Event`. Other events and unknown actions are
 * acknowledged (202) and ignored; a body that is not the documented shape is malformed (400).
 */
export function parseDelivery(eventName: string | undefined, body: string): ParsedDelivery {
  if (eventName === 'ping') {
    return { kind: 'ping' };
  }
  if (eventName !== 'workflow_job') {
    return { kind: 'ignored', answer: { statusCode: 202, message: `event ${JSON.stringify(eventName ?? null)} ignored` } };
  }
  let data: any;
  try {
    data = JSON.parse(body);
  } catch {
    return malformed('the body is not JSON');
  }
  if (typeof data !== 'object' || data === null) {
    return malformed('the body is not a JSON object');
  }
  if (typeof data.action !== 'string' || !JOB_ACTIONS.has(data.action)) {
    return { kind: 'ignored', answer: { statusCode: 202, message: `action ${JSON.stringify(data.action ?? null)} ignored` } };
  }
  const job = data.workflow_job;
  if (typeof job !== 'object' || job === null) {
    return malformed('workflow_job is missing');
  }
  if (!Number.isSafeInteger(job.id) || job.id <= 0) {
    return malformed('workflow_job.id is not a positive integer');
  }
  if (!Array.isArray(job.labels) || !job.labels.every((l: unknown) => typeof l === 'string')) {
    return malformed('workflow_job.labels is not an array of strings');
  }
  if (typeof job.created_at !== 'string' || Number.isNaN(Date.parse(job.created_at))) {
    return malformed('workflow_job.created_at is not a timestamp');
  }
  const repository = data.repository?.full_name;
  if (typeof repository !== 'string' || !/^[^/\s]+\/[^/\s]+$/.test(repository)) {
    return malformed('repository.full_name is missing');
  }
  const startedAt = typeof job.started_at === 'string' && !Number.isNaN(Date.parse(job.started_at)) ? job.started_at : undefined;
  return {
    kind: 'job',
    event: {
      action: data.action,
      jobId: job.id,
      labels: job.labels,
      repository,
      createdAt: job.created_at,
      startedAt,
      runnerName: typeof job.runner_name === 'string' && job.runner_name !== '' ? job.runner_name : undefined,
      organization: nonEmpty(data.organization?.login),
      enterprise: nonEmpty(data.enterprise?.slug),
      installationId: Number.isSafeInteger(data.installation?.id) && data.installation.id > 0 ? data.installation.id : undefined,
    },
  };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Whether a delivery is for the connection; when not, why (sent back to GitHub and logged). */
export type ScopeCheck = { readonly ours: true } | { readonly ours: false; readonly reason: string };

/**
 * Whether a job belongs to the connection's scope: the organization (`organization.login`, and the
 * repository's owner), the repository (`repository.full_name` = `owner/repo`) or the enterprise
 * (`enterprise.slug`); and, when `installationId` is known and the delivery names one, the GitHub App
 * installation. A GitHub App installed on several organizations sends every installation's deliveries
 * to the same URL, and an organization webhook in front of a repository connection sends every
 * repository's: routing by labels alone would let those jobs raise demand. GitHub logins are compared
 * case-insensitively, as GitHub treats them.
 */
export function checkScope(
  event: Pick<WorkflowJobEvent, 'repository' | 'organization' | 'enterprise' | 'installationId'>,
  connection: Pick<GitHubRuntimeConfig, 'scope' | 'owner' | 'repo'>,
  installationId?: number,
): ScopeCheck {
  if (installationId !== undefined && event.installationId !== undefined && event.installationId !== installationId) {
    return { ours: false, reason: `installation ${event.installationId} is not the connection's (${installationId})` };
  }
  const same = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
  const owner = event.repository.split('/')[0];
  switch (connection.scope) {
    case 'repository':
      return same(event.repository, `${connection.owner}/${connection.repo ?? ''}`)
        ? { ours: true }
        : { ours: false, reason: `repository ${event.repository} is not ${connection.owner}/${connection.repo ?? ''}` };
    case 'enterprise':
      return same(event.enterprise, connection.owner)
        ? { ours: true }
        : { ours: false, reason: `enterprise ${event.enterprise ?? '(none)'} is not ${connection.owner}` };
    case 'organization':
    default:
      if (event.organization !== undefined && !same(event.organization, connection.owner)) {
        return { ours: false, reason: `organization ${event.organization} is not ${connection.owner}` };
      }
      return same(owner, connection.owner)
        ? { ours: true }
        : { ours: false, reason: `repository ${event.repository} is not in organization ${connection.owner}` };
  }
}

function malformed(message: string): ParsedDelivery {
  return { kind: 'malformed', answer: { statusCode: 400, message } };
}

/** The label every self-hosted runner has; a job asking for it is meant for self-hosted runners. */
export const SELF_HOSTED_LABEL = 'self-hosted';

/**
 * Every label a runner of `fleet` answers to: its custom labels (the fleet label among them) and the
 * default labels the runner application adds (`self-hosted`, the OS, the architecture).
 */
export function labelsOfFleet(fleet: FleetRuntimeEntry): Set<string> {
  const labels = new Set(fleet.labels.map((l) => l.toLowerCase()));
  labels.add(SELF_HOSTED_LABEL);
  labels.add((fleet.os ?? 'linux').toLowerCase());
  labels.add((fleet.architecture ?? 'x64').toLowerCase());
  return labels;
}

export type Route =
  | { readonly kind: 'fleet'; readonly fleet: FleetRuntimeEntry }
  /** A self-hosted job none of the fleets can run: counted, so that a typo in `runs-on` shows. */
  | { readonly kind: 'unroutable'; readonly reason: string }
  /** Not a self-hosted job of ours (a GitHub-hosted one, say): ignored silently. */
  | { readonly kind: 'not-ours'; readonly reason: string };

/**
 * The fleet that should serve a job with `jobLabels`. A fleet can run the job when every label of the
 * job is one of the fleet's (compared case-insensitively, the default labels included). When several
 * can, the one with the fewest labels is chosen (the least specialized, usually the cheapest), then
 * the first declared: its demand alone grows, so one job never scales two fleets.
 */
export function routeJob(jobLabels: string[], fleets: FleetRuntimeEntry[]): Route {
  const wanted = [...new Set(jobLabels.map((l) => l.toLowerCase()))];
  if (wanted.length === 0) {
    return { kind: 'not-ours', reason: 'the job has no labels' };
  }
  let best: { fleet: FleetRuntimeEntry; size: number } | undefined;
  for (const fleet of fleets) {
    const labels = labelsOfFleet(fleet);
    if (wanted.every((l) => labels.has(l)) && (!best || labels.size < best.size)) {
      best = { fleet, size: labels.size };
    }
  }
  if (best) {
    return { kind: 'fleet', fleet: best.fleet };
  }
  if (wanted.includes(SELF_HOSTED_LABEL)) {
    return { kind: 'unroutable', reason: `no fleet has all of the labels ${wanted.join(', ')}` };
  }
  return { kind: 'not-ours', reason: `not a self-hosted job (labels ${wanted.join(', ')})` };
}

/** The status a job record takes for a delivery's action (`waiting` is still queued for a runner). */
export function statusOfAction(action: WorkflowJobEvent['action']): JobStatus {
  switch (action) {
    case 'queued':
    case 'waiting':
      return 'queued';
    case 'in_progress':
      return 'in_progress';
    case 'completed':
      return 'completed';
  }
}

/** The fleet a runner name belongs to (`<fleet name>-i-<hex>`), if any of `fleets`. */
export function fleetOfRunner(runnerName: string | undefined, fleets: FleetRuntimeEntry[]): FleetRuntimeEntry | undefined {
  if (!runnerName) {
    return undefined;
  }
  return fleets.find((f) => runnerName.startsWith(`${f.name}-i-`) && /^i-[0-9a-f]{8,17}$/.test(runnerName.slice(f.name.length + 1)));
}

/** Seconds from queued to started, when both are known and in order. */
export function secondsToStart(event: WorkflowJobEvent): number | undefined {
  if (!event.startedAt) {
    return undefined;
  }
  const seconds = (Date.parse(event.startedAt) - Date.parse(event.createdAt)) / 1000;
  return seconds >= 0 ? seconds : undefined;
}

/** How long delivery ids and job records are kept: past GitHub's 24-hour limit for a queued job. */
export const JOB_RECORD_TTL_SECONDS = 25 * 3600;

/**
 * A job still queued this long after GitHub queued it has been cancelled by GitHub (a job waits about 24
 * hours for a self-hosted runner), whatever the job table says: it stops counting without asking GitHub.
 * This bounds the demand of a job that reconciliation cannot read (a 404 for a deleted run, or a
 * missing permission).
 */
export const QUEUED_JOB_LIMIT_SECONDS = 24 * 3600 + 15 * 60;

/** Whether a queued job is past GitHub's limit for waiting (see QUEUED_JOB_LIMIT_SECONDS). */
export function pastQueueLimit(queuedAt: string, now: Date): boolean {
  return (now.getTime() - Date.parse(queuedAt)) / 1000 >= QUEUED_JOB_LIMIT_SECONDS;
}

/** Queued jobs older than this are checked against the REST API: their in_progress delivery may be lost. */
export const RECONCILE_AFTER_SECONDS = 120;

/**
 * The queued jobs to check against GitHub this tick (the tick runs once a minute): a job is checked in
 * the minutes its age reaches 2, 4, 8, 16... minutes, so that a job really waiting for a runner costs a
 * request in about one tick of each doubling (10 checks in 24 hours) and a long backlog stays cheap,
 * while a lost delivery is noticed within 2 to 4 minutes. The oldest first, at most `limit`.
 */
export function jobsToReconcile<T extends { readonly queuedAt: string }>(queued: T[], now: Date, limit: number): T[] {
  return queued
    .filter((j) => dueForCheck((now.getTime() - Date.parse(j.queuedAt)) / 1000))
    .sort((a, b) => Date.parse(a.queuedAt) - Date.parse(b.queuedAt))
    .slice(0, Math.max(0, limit));
}

/** Whether a job this old is due: its age in whole minutes is a power of two, from RECONCILE_AFTER_SECONDS on. */
export function dueForCheck(ageSeconds: number): boolean {
  if (!(ageSeconds >= RECONCILE_AFTER_SECONDS)) {
    return false;
  }
  const minutes = Math.floor(ageSeconds / 60);
  return Number.isInteger(Math.log2(minutes));
}

