import { Duration, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { ControlPlaneNames, controlPlaneNames, PUBLISHED_ATTRIBUTES, PublishedAttribute } from './names';
import { GitHubConnection } from '../github/connection';
import { fatalMistake, Mistakes } from '../validation';

/*
 * A control plane as fleets refer to it: the interface both kinds implement, a control plane of another
 * app imported by name, and what a named control plane publishes for it (src/lifecycle/control-plane.ts
 * builds the control plane itself).
 */

/**
 * A control plane as a fleet uses it: one created in this app (`GitHubRunnerControlPlane`), or one of
 * another app imported by name (`GitHubRunnerControlPlane.fromControlPlaneName`).
 */
export interface IGitHubRunnerControlPlane extends IConstruct {
  /** The GitHub connection of every fleet of this control plane. */
  readonly github: GitHubConnection;
  /** How often the sweep runs (a fleet's terminate hook lasts three sweeps). */
  readonly sweepInterval: Duration;
  /** Whether the control plane has a webhook: its fleets then scale on their queued jobs within seconds. */
  readonly hasWebhook: boolean;
  /** The value of the `github-runner-fleet:control-plane` tag on its fleets' groups; the names of their hooks, secrets and directory entries derive from it. */
  readonly controlPlaneId: string;
  /** Registers runners for instances going into service. */
  readonly registrationFunction: lambda.IFunction;
  /** Removes runners of terminating instances; sweeps orphans. */
  readonly deregistrationFunction: lambda.IFunction;
  /** Publishes the idle, busy and offline runner counts of every fleet every minute. */
  readonly idleMetricFunction: lambda.IFunction;
  /** The instance agent, the instances' only way to Auto Scaling (for themselves). */
  readonly instanceAgentFunction: lambda.IFunction;
  /** The instance agent's Function URL (AWS_IAM auth). */
  readonly instanceAgentUrl: string;
  /** Events the functions could not take after retries. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** A control plane of another app, as {@link GitHubRunnerControlPlane.fromControlPlaneName} imports it. */
export interface GitHubRunnerControlPlaneAttributes {
  /** The `controlPlaneName` the control plane was created with. */
  readonly controlPlaneName: string;
  /** The GitHub connection the control plane was created with (the same scope, owner and credentials secret). */
  readonly github: GitHubConnection;
  /**
   * Whether the control plane has a webhook (the fleets' scaling settings follow it).
   *
   * @default false
   */
  readonly webhook?: boolean;
  /**
   * The control plane's sweep interval.
   *
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;
}

/**
 * What a named control plane publishes for the fleets of other apps (see
 * `GitHubRunnerControlPlane.fromControlPlaneName`): one Standard SSM parameter per attribute.
 */
export function publishAttributes(
  scope: Construct, names: ControlPlaneNames, controlPlaneId: string, values: Record<PublishedAttribute, string>,
): void {
  for (const attribute of PUBLISHED_ATTRIBUTES) {
    new ssm.StringParameter(scope, `Published-${attribute}`, {
      parameterName: `${names.published}${attribute}`,
      description: `cdk-github-runner-fleet: ${attribute} of control plane ${controlPlaneId}, for fleets of other apps`,
      stringValue: values[attribute],
      tier: ssm.ParameterTier.STANDARD,
    });
  }
}

/** The sweep interval, or the default (5 minutes) with a mistake recorded. */
export function validSweepInterval(sweepInterval: Duration, mistakes: Mistakes): Duration {
  if (Token.isUnresolved(sweepInterval.toSeconds({ integral: false }))) {
    return sweepInterval;
  }
  const seconds = sweepInterval.toSeconds({ integral: false });
  return mistakes.valueOr(sweepInterval, seconds >= 60 && seconds <= 86_400 && seconds % 60 === 0,
    () => `sweepInterval (${sweepInterval.toHumanString()}) must be whole minutes between 1 minute and 1 day: an EventBridge schedule has minute resolution`,
    Duration.minutes(5));
}

/** A control plane of another app: its functions and agent from the parameters it publishes. */
export class ImportedControlPlane extends Construct implements IGitHubRunnerControlPlane {
  public readonly github: GitHubConnection;
  public readonly sweepInterval: Duration;
  public readonly hasWebhook: boolean;
  public readonly controlPlaneId: string;
  public readonly registrationFunction: lambda.IFunction;
  public readonly deregistrationFunction: lambda.IFunction;
  public readonly idleMetricFunction: lambda.IFunction;
  public readonly instanceAgentFunction: lambda.IFunction;
  public readonly instanceAgentUrl: string;
  public readonly deadLetterQueue: sqs.IQueue;

  constructor(scope: Construct, id: string, attributes: GitHubRunnerControlPlaneAttributes) {
    super(scope, id);
    if (!attributes || !attributes.github) {
      throw new Error(`GitHubRunnerControlPlane.fromControlPlaneName (${this.node.path}): github is missing: pass the connection the control plane was created with`);
    }
    const problem = controlPlaneNameProblem(attributes.controlPlaneName, 'controlPlaneName');
    if (problem !== undefined) {
      // Every name below derives from it: nothing sensible can stand in.
      fatalMistake(this, `GitHubRunnerControlPlane.fromControlPlaneName: ${problem}`);
    }
    const mistakes = new Mistakes();
    mistakes.attachTo(this);
    this.github = attributes.github;
    this.sweepInterval = validSweepInterval(attributes.sweepInterval ?? Duration.minutes(5), mistakes);
    this.hasWebhook = attributes.webhook ?? false;
    this.controlPlaneId = attributes.controlPlaneName;
    const names = controlPlaneNames(this.controlPlaneId);
    const value = (attribute: PublishedAttribute) => ssm.StringParameter.valueForStringParameter(this, `${names.published}${attribute}`);
    const fn = (name: string, attribute: PublishedAttribute) => lambda.Function.fromFunctionAttributes(this, name, {
      functionArn: value(attribute), sameEnvironment: true, skipPermissions: true,
    });
    this.registrationFunction = fn('RegistrationFunction', 'registration-function-arn');
    this.deregistrationFunction = fn('DeregistrationFunction', 'deregistration-function-arn');
    this.idleMetricFunction = fn('IdleMetricFunction', 'idle-metric-function-arn');
    this.instanceAgentFunction = fn('InstanceAgentFunction', 'agent-function-arn');
    this.instanceAgentUrl = value('agent-url');
    this.deadLetterQueue = sqs.Queue.fromQueueArn(this, 'DeadLetterQueue', value('dead-letter-queue-arn'));
  }
}

/** What is wrong with a control plane's name (a tag value, and part of SSM parameter and secret names), if anything. */
export function controlPlaneNameProblem(name: string, prop: string): string | undefined {
  return !Token.isUnresolved(name) && /^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(name) ? undefined
    : `${prop} (${JSON.stringify(name)}) must be 1-64 letters, digits or hyphens, starting with a letter, and known at synthesis (e.g. "acme-runners")`;
}
