import { createHash } from 'crypto';
import { Annotations, Duration, Lazy, Names, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { ASYNC_INVOKE, AsyncInvokeSettings } from './async-invoke';
import { grantFunctionPermissions, SecretPrefixGrants } from './function-permissions';
import { createInstanceAgent } from './instance-agent';
import { encodeRuntimeConfig, githubRuntimeConfig } from './runtime-config';
import { createWebhook, grantJobTable, RunnerWebhookOptions, RunnerWebhookResources } from './webhook';
import { ENV_FLEET_CONFIG, FleetRuntimeEntry, GitHubRuntimeConfig, TagKeys, WebhookRuntimeConfig } from '../contract';
import { defaultOf, FLEET_ENTRY_SCHEMA } from '../contract/runtime-schema';
import { DeregistrationFunction } from '../generated/deregistration-function';
import { IdleMetricFunction } from '../generated/idle-metric-function';
import { RegistrationFunction } from '../generated/registration-function';
import { GitHubConnection } from '../github/connection';
import { acknowledge, NAG_REASONS, nagArn } from '../nag';

/** Properties of a {@link GitHubRunnerControlPlane}. */
export interface GitHubRunnerControlPlaneProps {
  /** The GitHub connection (scope and credentials) every fleet of this control plane registers with. */
  readonly github: GitHubConnection;

  /**
   * How often the deregistration function sweeps orphaned runners and secrets and re-checks instances
   * held for a busy runner. Whole minutes.
   *
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;

  /**
   * A `workflow_job` webhook endpoint: every delivery runs its fleet's capacity controller, so queued
   * jobs scale their fleet out within seconds, and fleets can scale from zero. Point GitHub at
   * `webhookUrl` with the secret's value.
   *
   * @default - no webhook: the capacity controller runs once a minute without knowing the queued jobs
   * (a fleet whose runners are all busy is doubled)
   */
  readonly webhook?: RunnerWebhookOptions;
}

/**
 * The functions that serve every fleet of one GitHub connection: registration, deregistration (with
 * the scheduled sweep), the idle-runner metric and the instance agent (the instances' only way to Auto
 * Scaling, acting on the calling instance alone), their EventBridge rules, their dead-letter queue and
 * their least-privilege grants.
 *
 * One control plane lists the connection's runners once per minute for all its fleets, and caches one
 * GitHub App installation token: GitHub requests per minute do not grow with the number of fleets.
 * Fleets given the same GitHub connection in one stack share a control plane created for them (its id
 * derived from the connection, see `forConnection`);
 * create one yourself to choose its settings and pass it to each fleet as `controlPlane`.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const secret: secretsmanager.ISecret;
 * const controlPlane = new GitHubRunnerControlPlane(this, 'Runners', {
 *   github: GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) }),
 * });
 * new GitHubRunnerFleet(this, 'X64', { vpc, controlPlane, labels: ['linux', 'x64'] });
 * new GitHubRunnerFleet(this, 'Arm64', { vpc, controlPlane, labels: ['linux', 'arm64'], instanceType: new ec2.InstanceType('m7g.large') });
 */
export class GitHubRunnerControlPlane extends Construct {
  /**
   * The control plane fleets with this connection share in the stack of `scope`, created on first use
   * at the stack's top level.
   *
   * Its construct id is derived from the connection (`GitHubRunnerControlPlane` and a hash of the scope,
   * owner, repository, API URL, authentication and credentials secret), not from the order in which
   * fleets are declared: reordering fleets, or adding a fleet of another connection, replaces nothing.
   * Connections that are equal in all of these share one control plane, even as distinct objects.
   *
   * @param scope any construct of the stack
   * @param github the connection
   */
  public static forConnection(scope: IConstruct, github: GitHubConnection): GitHubRunnerControlPlane {
    const stack = Stack.of(scope);
    const same = stack.node.children.find((c): c is GitHubRunnerControlPlane =>
      c instanceof GitHubRunnerControlPlane && c.github === github && c.connectionKey !== undefined);
    if (same) {
      return same;
    }
    const key = connectionKey(stack, github);
    const id = `GitHubRunnerControlPlane${createHash('sha256').update(key).digest('hex').slice(0, 8).toUpperCase()}`;
    const existing = stack.node.tryFindChild(id);
    if (existing instanceof GitHubRunnerControlPlane && existing.connectionKey === key) {
      return existing;
    }
    if (existing) {
      throw new Error(`the control plane of a GitHub connection would be ${stack.node.path}/${id}, which is taken by another construct: `
        + 'create a GitHubRunnerControlPlane yourself and pass it to the fleets as controlPlane');
    }
    const plane = new GitHubRunnerControlPlane(stack, id, { github });
    plane.connectionKey = key;
    return plane;
  }

  /** The GitHub connection of every fleet of this control plane. */
  public readonly github: GitHubConnection;
  /** How often the sweep runs. */
  public readonly sweepInterval: Duration;
  /** Registers runners for instances going into service. */
  public readonly registrationFunction: lambda.IFunction;
  /** Removes runners of terminating instances; sweeps orphans. */
  public readonly deregistrationFunction: lambda.IFunction;
  /** Publishes the idle, busy and offline runner counts of every fleet every minute. */
  public readonly idleMetricFunction: lambda.IFunction;
  /**
   * The instance agent: a runner instance's own Auto Scaling calls (scale-in protection, its lifecycle
   * actions, leaving the group, marking itself unhealthy), made for the verified calling instance only.
   * The instances have no Auto Scaling permission of their own.
   */
  public readonly instanceAgentFunction: lambda.IFunction;
  /**
   * The instance agent's Function URL (AWS_IAM auth): the instances sign their requests with their
   * instance-profile credentials. Each fleet's instance role may invoke it, and nothing else of Lambda.
   */
  public readonly instanceAgentUrl: string;
  /**
   * Lifecycle and schedule events the functions could not take: those EventBridge could not deliver after
   * its retries, and those whose invocations failed (an error or a timeout) through Lambda's own
   * asynchronous retries or expired waiting for them (with the error, as an on-failure destination).
   */
  public readonly deadLetterQueue: sqs.IQueue;
  /**
   * The value of the `github-runner-fleet:control-plane` tag on the Auto Scaling groups of this control
   * plane's fleets; the functions may complete lifecycle actions only on groups carrying it.
   */
  public readonly controlPlaneId: string;
  /** The URL to give GitHub as the webhook's payload URL (only with `webhook`). */
  public readonly webhookUrl?: string;
  /** The secret whose value GitHub signs deliveries with (only with `webhook`). */
  public readonly webhookSecret?: secretsmanager.ISecret;
  /** The function that takes the deliveries (only with `webhook`). */
  public readonly webhookFunction?: lambda.IFunction;

  /** For a control plane created by {@link forConnection}: what identifies its connection. */
  private connectionKey?: string;
  private readonly fleets: FleetRuntimeEntry[] = [];
  private readonly launchRule: events.Rule;
  private readonly terminateRule: events.Rule;
  private readonly secretGrants: SecretPrefixGrants;
  private readonly githubConfig: GitHubRuntimeConfig;
  /** Spot interruption warnings reach the deregistration function (created with the first spot fleet). */
  private spotRule?: events.Rule;

  constructor(scope: Construct, id: string, props: GitHubRunnerControlPlaneProps) {
    super(scope, id);
    if (!props || !props.github) {
      throw new Error('GitHubRunnerControlPlane: github is missing: pass GitHubConnection.organization(...) or GitHubConnection.repository(...)');
    }
    this.github = props.github;
    this.sweepInterval = props.sweepInterval ?? Duration.minutes(5);
    validateSweepInterval(this.sweepInterval);
    this.controlPlaneId = Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.githubConfig = githubRuntimeConfig(props.github);

    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.deadLetterQueue = deadLetterQueue;

    let webhook: RunnerWebhookResources | undefined;
    const webhookConfig = (): WebhookRuntimeConfig | undefined => webhook && {
      tableName: webhook.table.tableName,
      secretArn: webhook.secret.secretArn,
      maxBodyBytes: webhook.maxBodyBytes,
    };
    const environment = {
      [ENV_FLEET_CONFIG]: Lazy.string({
        produce: () => encodeRuntimeConfig(this, { version: 1, github: this.githubConfig, fleets: this.fleets, webhook: webhookConfig() }),
      }),
    };
    const functionProps = (name: string, description: string, timeout: Duration, asyncInvoke: AsyncInvokeSettings) => ({
      description,
      timeout,
      memorySize: 256,
      environment,
      architecture: lambda.Architecture.ARM_64,
      logGroup: new logs.LogGroup(this, `${name}Logs`, { retention: logs.RetentionDays.ONE_MONTH }),
      // EventBridge invokes these functions asynchronously: an event whose invocations all failed (errors,
      // timeouts) or that waited too long goes to the dead-letter queue with its error, never nowhere.
      onFailure: new destinations.SqsDestination(deadLetterQueue),
      retryAttempts: asyncInvoke.retryAttempts,
      maxEventAge: asyncInvoke.maxEventAge,
    });
    const registration = new RegistrationFunction(this, 'RegistrationFunction',
      functionProps('Registration', 'Registration: registers a runner for an instance going into service', Duration.minutes(1), ASYNC_INVOKE.registration));
    const deregistration = new DeregistrationFunction(this, 'DeregistrationFunction',
      functionProps('Deregistration', 'Deregistration: removes runners of terminating instances and sweeps orphans', Duration.minutes(5), ASYNC_INVOKE.deregistration));
    const idleMetric = new IdleMetricFunction(this, 'IdleMetricFunction',
      functionProps('IdleMetric', 'IdleMetric: publishes idle, busy and offline runner counts', Duration.minutes(1), ASYNC_INVOKE.idleMetric));
    this.registrationFunction = registration;
    this.deregistrationFunction = deregistration;
    this.idleMetricFunction = idleMetric;
    if (props.webhook) {
      webhook = createWebhook(this, props.webhook, environment);
      // The minute tick reconciles queued jobs and runs the capacity controller on the queues.
      grantJobTable(webhook.table, idleMetric);
      this.webhookUrl = webhook.url;
      this.webhookSecret = webhook.secret;
      this.webhookFunction = webhook.function;
    }

    for (const fn of [registration, deregistration, idleMetric]) {
      props.github.credentials.secret.grantRead(fn);
    }
    const groupCondition = { StringEquals: { [`autoscaling:ResourceTag/${TagKeys.CONTROL_PLANE}`]: this.controlPlaneId } };

    const agent = createInstanceAgent(this, { environment, groupCondition });
    this.instanceAgentFunction = agent.function;
    this.instanceAgentUrl = agent.url.url;

    this.secretGrants = grantFunctionPermissions({ registration, deregistration, idleMetric, webhook: webhook?.function }, groupCondition);

    const target = (fn: lambda.IFunction) => this.target(fn);
    // The group names are added to both patterns as fleets join.
    this.launchRule = new events.Rule(this, 'LaunchRule', {
      description: 'Runner instances going into service: register a runner',
      eventPattern: { source: ['aws.autoscaling'], detailType: ['EC2 Instance-launch Lifecycle Action'] },
      targets: [target(registration)],
    });
    this.terminateRule = new events.Rule(this, 'TerminateRule', {
      description: 'Runner instances terminating or returning to the warm pool: remove the runner',
      eventPattern: { source: ['aws.autoscaling'], detailType: ['EC2 Instance-terminate Lifecycle Action'] },
      targets: [target(deregistration)],
    });
    new events.Rule(this, 'SweepSchedule', {
      description: 'Sweep of runner fleets: orphaned runners and secrets, draining instances',
      schedule: events.Schedule.rate(this.sweepInterval),
      targets: [target(deregistration)],
    });
    new events.Rule(this, 'IdleMetricSchedule', {
      description: 'Idle, busy and offline runners of every fleet, every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [target(idleMetric)],
    });

    this.node.addValidation({
      validate: () => this.fleets.length === 0
        ? [`GitHubRunnerControlPlane ${this.node.path} serves no fleet: pass it to a GitHubRunnerFleet as controlPlane, or remove it`]
        : [],
    });
    acknowledge(deadLetterQueue, [['AwsSolutions-SQS3',
      'This queue is the dead-letter queue of the EventBridge targets and the functions\' on-failure destination; a dead-letter queue needs none of its own.']]);
    acknowledge(this, [
      ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', NAG_REASONS.lambdaBasicRole],
      ['AwsSolutions-L1', NAG_REASONS.nodeRuntime],
      [`AwsSolutions-IAM5[Resource::${nagArn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*')}]`, NAG_REASONS.groupPattern],
      ['AwsSolutions-IAM5[Resource::*]', NAG_REASONS.describeStar],
    ]);
  }

  private target(fn: lambda.IFunction): targets.LambdaFunction {
    return new targets.LambdaFunction(fn, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(1),
    });
  }

  /** Whether the control plane has a webhook: its fleets then scale on their queued jobs within seconds. */
  public get hasWebhook(): boolean {
    return this.webhookUrl !== undefined;
  }

  /** The names of the fleets this control plane serves. */
  public get fleetNames(): string[] {
    return this.fleets.map((f) => f.name);
  }

  /**
   * Adds a fleet: its lifecycle events, its secrets and its runners become this control plane's.
   * Called by `GitHubRunnerFleet`.
   *
   * @internal
   */
  public _addFleet(entry: FleetRuntimeEntry, options: { readonly spot?: boolean } = {}): void {
    if (!Token.isUnresolved(entry.name) && this.fleets.some((f) => f.name === entry.name)) {
      throw new Error(`fleetName ${JSON.stringify(entry.name)} is used by two fleets of the control plane ${this.node.path}: give each fleet its own fleetName`);
    }
    const signature = routingSignature(entry);
    const twin = this.fleets.find((f) => routingSignature(f) === signature);
    if (twin && !Token.isUnresolved(signature)) {
      Annotations.of(this).addWarningV2('cdk-github-runner-fleet:OverlappingFleets',
        `fleets ${twin.name} and ${entry.name} answer to the same labels (${signature}): a queued job's demand goes to ${twin.name}, `
        + `the first declared, and GitHub gives the job to whichever runner asks first. Give ${entry.name} a label of its own if its jobs are different.`);
    }
    this.fleets.push(entry);
    this.launchRule.addEventPattern({
      // Launches into the warm pool are prepared and completed by the instance itself.
      detail: { AutoScalingGroupName: [entry.autoScalingGroupName], Destination: ['AutoScalingGroup'] },
    });
    this.terminateRule.addEventPattern({ detail: { AutoScalingGroupName: [entry.autoScalingGroupName] } });
    if (options.spot && !this.spotRule) {
      this.spotRule = new events.Rule(this, 'SpotInterruptionRule', {
        description: 'Spot interruption warnings: counted for the fleet of the instance (the instance stops taking jobs itself)',
        eventPattern: { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
        targets: [this.target(this.deregistrationFunction)],
      });
    }
    this.secretGrants.addSecretPrefix(entry.secretPrefix);
    acknowledge(this, [[`AwsSolutions-IAM5[Resource::${nagArn('secretsmanager', `secret:${entry.secretPrefix}*`)}]`, NAG_REASONS.secretPrefix]]);
  }
}

/** What identifies a connection, free of token numbers (which depend on creation order). */
function connectionKey(stack: Stack, github: GitHubConnection): string {
  const config = githubRuntimeConfig(github);
  return JSON.stringify(stack.resolve({
    scope: config.scope,
    owner: config.owner,
    repo: config.repo ?? null,
    apiUrl: config.apiUrl,
    auth: config.auth,
    secret: github.credentials.secret.secretName,
  }));
}

/** The labels jobs can ask for to reach a fleet, apart from its own fleet label. */
function routingSignature(entry: FleetRuntimeEntry): string {
  const labels = entry.labels.filter((l) => l.toLowerCase() !== entry.fleetLabel.toLowerCase()).map((l) => l.toLowerCase());
  return [...new Set([...labels, entry.os ?? defaultOf(FLEET_ENTRY_SCHEMA, 'os'), entry.architecture ?? defaultOf(FLEET_ENTRY_SCHEMA, 'architecture')])]
    .sort().join(', ');
}

function validateSweepInterval(sweepInterval: Duration): void {
  if (Token.isUnresolved(sweepInterval.toSeconds({ integral: false }))) {
    return;
  }
  const seconds = sweepInterval.toSeconds({ integral: false });
  if (seconds < 60 || seconds > 86_400 || seconds % 60 !== 0) {
    throw new Error(`sweepInterval (${sweepInterval.toHumanString()}) must be whole minutes between 1 minute and 1 day: an EventBridge schedule has minute resolution`);
  }
}

