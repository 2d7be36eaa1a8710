import { capacitySummary, controlFleet } from './capacity-controller';
import { describeError } from './deps';
import { MetricNames, NO_FLEET } from '../../src/contract';
import type { FleetRuntimeConfig, FleetRuntimeEntry } from '../../src/contract';
import { checkScope, fleetOfRunner, JOB_RECORD_TTL_SECONDS, parseDelivery, preCheck, routeJob, secondsToStart, statusOfAction } from '../core/webhook';
import type { WebhookAnswer, WebhookRequest, WorkflowJobEvent } from '../core/webhook';
import type { AutoScalingPort, JobStorePort, LoggerPort, MetricsPort, SignatureVerifier } from '../ports';

export interface WebhookDeps {
  readonly config: FleetRuntimeConfig;
  readonly jobs: JobStorePort;
  /** The groups' capacity: the controller reads it and, with the direct path, raises it. */
  readonly autoScaling: Pick<AutoScalingPort, 'describeCapacity' | 'setDesiredCapacity'>;
  readonly verifier: SignatureVerifier;
  readonly metrics: MetricsPort;
  readonly logger: LoggerPort;
  readonly now?: () => Date;
  /**
   * The GitHub App installation of the connection, when known: deliveries that name another
   * installation are not acted on. @default - not compared (the organization, repository or enterprise still is)
   */
  readonly installationId?: number;
}

/**
 * The `workflow_job` webhook: verifies the signature over the raw body before anything else, answers
 * deliveries for another organization, repository, enterprise or App installation without acting on
 * them, routes each job to the fleet that can run it, keeps the job's status, drops duplicate
 * deliveries, and runs that fleet's capacity controller at once (the direct path raises the group's
 * desired capacity; the gap left is published at high resolution for the alarms). Never acts on an
 * unverified request.
 *
 * The job is written before the delivery id is claimed: the write is conditional and only ever moves a
 * job forward, so writing it again changes nothing, and a delivery that failed before its claim (answered 500,
 * which GitHub records as a failed delivery) is applied in full when it is redelivered. Claiming first
 * would drop exactly that redelivery as a duplicate.
 */
export function createWebhookHandler(deps: WebhookDeps): (request: WebhookRequest) => Promise<WebhookAnswer> {
  const now = deps.now ?? (() => new Date());
  const maxBodyBytes = deps.config.webhook?.maxBodyBytes ?? 1024 * 1024;

  const reject = (answer: WebhookAnswer, reason: string): WebhookAnswer => {
    deps.metrics.add(MetricNames.WEBHOOK_REJECTED, NO_FLEET, 1);
    deps.logger.warn('Webhook delivery refused', { statusCode: answer.statusCode, reason });
    return answer;
  };

  const handle = async (request: WebhookRequest): Promise<WebhookAnswer> => {
    const checked = preCheck(request, maxBodyBytes);
    if (!checked.ok) {
      return reject(checked.answer, checked.answer.message);
    }
    let verified: boolean;
    try {
      verified = await deps.verifier.verify(request.body, checked.signature);
    } catch (error) {
      deps.logger.error('The webhook secret could not be read: deliveries cannot be verified', describeError(error));
      return { statusCode: 500, message: 'the signature cannot be verified now' };
    }
    if (!verified) {
      return reject({ statusCode: 401, message: 'the signature does not match' }, 'bad signature');
    }

    const parsed = parseDelivery(request.headers['x-github-event'], request.body);
    if (parsed.kind === 'ping') {
      return { statusCode: 200, message: 'pong' };
    }
    if (parsed.kind === 'ignored') {
      return parsed.answer;
    }
    if (parsed.kind === 'malformed') {
      return reject(parsed.answer, parsed.answer.message);
    }
    const deliveryId = request.headers['x-github-delivery'];
    if (!deliveryId) {
      return reject({ statusCode: 400, message: 'X-GitHub-Delivery is missing' }, 'no delivery id');
    }

    const event = parsed.event;
    const scope = checkScope(event, deps.config.github, deps.installationId);
    if (!scope.ours) {
      // 2xx: the delivery was received and is fine, it is just not ours; a failure would be redelivered.
      deps.metrics.add(MetricNames.FOREIGN_DELIVERIES, NO_FLEET, 1);
      deps.logger.warn('A delivery for another scope: not acted on', {
        reason: scope.reason, jobId: event.jobId, repository: event.repository, installationId: event.installationId,
      });
      return { statusCode: 202, message: `not for this connection: ${scope.reason}` };
    }
    const fleet = fleetFor(event, deps.config.fleets);
    if (fleet.kind !== 'fleet') {
      if (fleet.kind === 'unroutable' && event.action === 'queued') {
        deps.metrics.add(MetricNames.UNROUTABLE_JOBS, NO_FLEET, 1);
        deps.logger.warn('A self-hosted job no fleet can run', { jobId: event.jobId, labels: event.labels, repository: event.repository });
      }
      return { statusCode: 202, message: fleet.reason };
    }

    const at = now();
    const status = statusOfAction(event.action);
    // The job first (see above): `changed` is true for exactly one write of this status, whichever
    // attempt of the delivery makes it, so what is counted on it is counted once.
    const changed = await deps.jobs.putJob({
      jobId: event.jobId,
      fleet: fleet.fleet.name,
      status,
      repository: event.repository,
      queuedAt: event.createdAt,
      updatedAt: at.toISOString(),
    }, expiry(at));
    const waited = secondsToStart(event);
    if (changed && status === 'in_progress' && waited !== undefined) {
      deps.metrics.add(MetricNames.JOB_START_SECONDS, fleet.fleet.name, waited, { unit: 'Seconds' });
    }
    if (!await deps.jobs.claimDelivery(deliveryId, expiry(at))) {
      return { statusCode: 200, message: 'duplicate delivery ignored' };
    }
    const capacity = await controlFleet(deps, fleet.fleet);
    // A job taken by a runner of another fleet than the one its labels route to left that fleet's queue.
    const routed = routeJob(event.labels, deps.config.fleets);
    if (routed.kind === 'fleet' && routed.fleet.name !== fleet.fleet.name && status !== 'queued') {
      await controlFleet(deps, routed.fleet);
    }
    deps.logger.info('Workflow job recorded', {
      jobId: event.jobId, action: event.action, fleet: fleet.fleet.name, changed, ...capacitySummary(capacity),
    });
    return { statusCode: 202, message: `job ${event.jobId} ${event.action}: fleet ${fleet.fleet.name}` };
  };

  return async (request) => {
    try {
      return await handle(request);
    } catch (error) {
      // A non-2xx answer: GitHub records the delivery as failed, and the minute tick redelivers it (GitHub
      // App webhooks). A failure before the claim left it unclaimed, so the redelivery is applied in full;
      // one after it (the controller) left the job recorded, and the redelivery is a harmless duplicate.
      deps.logger.error('Webhook delivery failed', describeError(error));
      return { statusCode: 500, message: 'the delivery could not be processed' };
    } finally {
      await deps.metrics.flush();
    }
  };
}

type FleetChoice = { kind: 'fleet'; fleet: FleetRuntimeEntry } | { kind: 'unroutable' | 'not-ours'; reason: string };

/** A job that has a runner belongs to the runner's fleet; before that, to the fleet its labels route to. */
function fleetFor(event: WorkflowJobEvent, fleets: FleetRuntimeEntry[]): FleetChoice {
  const running = fleetOfRunner(event.runnerName, fleets);
  if (running) {
    return { kind: 'fleet', fleet: running };
  }
  return routeJob(event.labels, fleets);
}

function expiry(at: Date): Date {
  return new Date(at.getTime() + JOB_RECORD_TTL_SECONDS * 1000);
}
