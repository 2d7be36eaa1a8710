import { describeError } from './deps';
import type { FleetRuntimeConfig } from '../../src/contract';
import type { ServedPrograms } from '../../src/contract/instance-programs';
import { answerFor, groupDecision, parseAgentRequest, planCall, verifyCaller } from '../core/instance-agent';
import type { AgentAnswer, AgentCall, AgentHttpRequest, VerifiedCaller } from '../core/instance-agent';
import type { AutoScalingPort, LoggerPort, RuntimeEnvironment, TerminateOutcome } from '../ports';

export interface InstanceAgentDeps {
  readonly config: FleetRuntimeConfig;
  /** Finding the caller's group, and the calls on the caller's instance. */
  readonly autoScaling: Pick<AutoScalingPort,
  'groupOfInstance' | 'listWarmPoolInstances' | 'setInstanceProtection' | 'recordHeartbeat' | 'completeLifecycleAction'
  | 'terminateInstance' | 'setUnhealthy'>;
  readonly logger: LoggerPort;
  readonly environment: RuntimeEnvironment;
  /**
   * The program installer this agent serves (read from the copy of `assets/instance` beside its bundle,
   * once): the instances' user data fetches it at their first boot.
   */
  readonly programs: () => ServedPrograms;
}

/**
 * The instance agent: a runner instance's Auto Scaling calls, made for it on its own instance only.
 *
 * Order: the caller's verified ARN first (no AWS call for a caller that is not a fleet's instance
 * session), then the request, then the caller's group (DescribeAutoScalingInstances; the fleet's warm
 * pool when the instance is not listed), then the one call the action makes, on the caller's instance id
 * from its ARN. Nothing in the body names the instance acted on.
 */
export function createInstanceAgentHandler(deps: InstanceAgentDeps): (request: AgentHttpRequest) => Promise<AgentAnswer> {
  const { autoScaling, logger } = deps;

  const refuse = (answer: AgentAnswer, attributes: Record<string, unknown>): AgentAnswer => {
    logger.warn('Instance agent request refused', { statusCode: answer.statusCode, reason: answer.message, ...attributes });
    return answer;
  };

  /** Whether the caller's instance is an instance of its fleet's group (in service or in its warm pool). */
  const inFleetGroup = async (caller: VerifiedCaller): Promise<boolean> => {
    const decision = groupDecision(caller.fleet, await autoScaling.groupOfInstance(caller.instanceId));
    if (decision !== 'unlisted') {
      return decision === 'member';
    }
    return (await autoScaling.listWarmPoolInstances(caller.fleet.autoScalingGroupName)).includes(caller.instanceId);
  };

  /** Makes the call; for a leave, tries each decrement setting until one is not refused at the minimum size. */
  const perform = async (call: AgentCall): Promise<{ outcome: boolean | TerminateOutcome | 'none'; decremented?: boolean; programs?: ServedPrograms }> => {
    switch (call.call) {
      case 'setInstanceProtection':
        return { outcome: await autoScaling.setInstanceProtection(call.autoScalingGroupName, call.instanceId, call.protected) };
      case 'recordHeartbeat':
        return { outcome: await autoScaling.recordHeartbeat(call.action) };
      case 'completeLifecycleAction':
        return { outcome: await autoScaling.completeLifecycleAction(call.action, call.result) };
      case 'setUnhealthy':
        return { outcome: await autoScaling.setUnhealthy(call.instanceId) };
      case 'terminateInstance': {
        let outcome: TerminateOutcome = 'at-min-size';
        for (const decrement of call.decrements) {
          outcome = await autoScaling.terminateInstance(call.instanceId, decrement);
          if (outcome !== 'at-min-size') {
            return { outcome, decremented: decrement };
          }
          logger.info('The group is at its minimum size: terminating without a decrement', { instanceId: call.instanceId });
        }
        return { outcome };
      }
      case 'programs':
        return { outcome: 'none', programs: deps.programs() };
      case 'none':
        return { outcome: 'none' };
    }
  };

  return async (request) => {
    const caller = verifyCaller(request.caller, deps.environment, deps.config.fleets);
    if (!caller.ok) {
      return refuse({ statusCode: 403, message: `the caller is not a runner instance of this control plane: ${caller.reason}` }, {
        userArn: request.caller?.userArn ?? null,
      });
    }
    const who = { instanceId: caller.instanceId, fleet: caller.fleet.name };
    const parsed = parseAgentRequest(request.method, request.body);
    if (!parsed.ok) {
      return refuse(parsed.answer, who);
    }
    const action = parsed.request.action;
    if (parsed.ignoredFields.length > 0) {
      logger.warn('Instance agent request fields ignored: the agent acts on the calling instance only', {
        ...who, action, ignoredFields: parsed.ignoredFields,
      });
    }
    try {
      if (!await inFleetGroup(caller)) {
        return refuse({
          statusCode: 403,
          message: `the caller is not a runner instance of this control plane: ${caller.instanceId} is not an instance of the group of fleet ${caller.fleet.name}`,
        }, who);
      }
      const { outcome, decremented, programs } = await perform(planCall(parsed.request, caller));
      const answer = answerFor(parsed.request, caller, outcome, decremented, programs);
      const attributes = { ...who, action, statusCode: answer.statusCode, reason: answer.message };
      if (answer.statusCode === 200) {
        logger.info(`Instance agent: ${action} done`, attributes);
      } else {
        logger.warn(`Instance agent: ${action} refused by Auto Scaling`, attributes);
      }
      return answer;
    } catch (error) {
      logger.error(`Instance agent: ${action} failed`, { ...who, action, ...describeError(error) });
      return { statusCode: 500, message: `the ${action} could not be done now: retry later`, fields: who };
    }
  };
}
