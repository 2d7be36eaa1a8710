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
import {
  controlPlaneNameProblem, GitHubRunnerControlPlaneAttributes, IGitHubRunnerControlPlane, ImportedControlPlane, publishAttributes, validSweepInterval,
} from './control-plane-reference';
import { joinFleetDirectory } from './fleet-directory';
import { grantFleetDirectory, grantFunctionPermissions } from './function-permissions';
import { createInstanceAgent } from './instance-agent';
import { controlPlaneNames, ControlPlaneNames } from './names';
import { encodeRuntimeConfig, githubRuntimeConfig } from './runtime-config';
import { createWebhook, grantJobTable, RunnerWebhookOptions, RunnerWebhookResources } from './webhook';
import { ENV_FLEET_CONFIG, FleetRuntimeEntry, GitHubRuntimeConfig, TagKeys, WebhookRuntimeConfig } from '../contract';
import { defaultOf, FLEET_ENTRY_SCHEMA } from '../contract/runtime-schema';
import { DeregistrationFunction } from '../generated/deregistration-function';
import { IdleMetricFunction } from '../generated/idle-metric-function';
import { RegistrationFunction } from '../generated/registration-function';
import { GitHubConnection } from '../github/connection';
import { acknowledge, NAG_REASONS, nagArn } from '../nag';
import { fatalMistake, Mistakes } from '../validation';

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

  /**
   * A name for the control plane, unique in its account and region, by which fleets of other apps
   * import it (`GitHubRunnerControlPlane.fromControlPlaneName`). It becomes the control plane's id (the
   * `github-runner-fleet:control-plane` tag of its groups) and the root of its SSM parameters: a named
   * control plane publishes its functions' ARNs and its instance agent's URL below
   * `/github-runner-fleet/<name>/control-plane/`, and its functions always read the fleet directory.
   * 1 to 64 letters, digits and hyphens, starting with a letter.
   *
   * @default - no name: the id is derived from the construct path, and only fleets of this app can join
   */
  readonly controlPlaneName?: string;
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
export class GitHubRunnerControlPlane extends Construct implements IGitHubRunnerControlPlane {
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

  /**
   * A control plane of another app, by the `controlPlaneName` it was created with: fleets given it as
   * `controlPlane` join its fleet directory, and find its functions and instance agent through the
   * parameters it publishes (resolved at deployment, in the fleet's stack). Deploy the control plane
   * first; fleets and control plane should come from the same version of this library.
   *
   * @param scope the construct to import into
   * @param id its id
   * @param attributes the name and the settings the control plane was created with
   */
  public static fromControlPlaneName(scope: Construct, id: string, attributes: GitHubRunnerControlPlaneAttributes): IGitHubRunnerControlPlane {
    return new ImportedControlPlane(scope, id, attributes);
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
  /** Mistakes in the props (and between its fleets), reported at synth. */
  private readonly mistakes = new Mistakes();
  /** The names this control plane gives its fleets' hooks, secrets and directory entries. */
  private readonly names: ControlPlaneNames;
  /** The fleets of this control plane's own stack: they travel in the functions' environment. */
  private readonly fleets: FleetRuntimeEntry[] = [];
  /** The names of the fleets of other stacks: each joined through a parameter of the fleet directory. */
  private readonly remoteFleets: string[] = [];
  /** The entries of the fleets of other stacks (for the overlap warning only; they travel as parameters). */
  private readonly remoteEntries: FleetRuntimeEntry[] = [];
  private readonly functionsReadingDirectory: lambda.IFunction[];
  /** Whether the functions read the fleet directory (a fleet of another stack joined, or the control plane is named). */
  private readsDirectory = false;
  private readonly githubConfig: GitHubRuntimeConfig;
  /** Spot interruption warnings reach the deregistration function (created with the first spot fleet). */
  private spotRule?: events.Rule;

  constructor(scope: Construct, id: string, props: GitHubRunnerControlPlaneProps) {
    super(scope, id);
    // Only a missing connection throws here; other mistakes are reported with all others at synth.
    if (!props || !props.github) {
      fatalMistake(this, 'GitHubRunnerControlPlane: github is missing: pass GitHubConnection.organization(...) or GitHubConnection.repository(...)');
    }
    this.mistakes.attachTo(this);
    this.github = props.github;
    this.sweepInterval = validSweepInterval(props.sweepInterval ?? Duration.minutes(5), this.mistakes);
    // A name that cannot be one is reported at synth; the id derived from the path stands in meanwhile.
    const chosenName = props.controlPlaneName === undefined ? undefined
      : this.mistakes.valueOr<string | undefined>(props.controlPlaneName, controlPlaneNameProblem(props.controlPlaneName, 'controlPlaneName') === undefined,
        () => controlPlaneNameProblem(props.controlPlaneName!, 'controlPlaneName')!, undefined);
    this.controlPlaneId = chosenName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.names = controlPlaneNames(this.controlPlaneId);
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
        produce: () => encodeRuntimeConfig(this, {
          version: 1,
          github: this.githubConfig,
          fleets: this.fleets,
          webhook: webhookConfig(),
          fleetDirectory: this.readsDirectory ? this.names.fleetDirectory : undefined,
        }),
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
      webhook = createWebhook(this, props.webhook, environment, this.mistakes);
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

    // One prefix for every fleet's secrets: the grants do not grow with the fleets.
    grantFunctionPermissions({ registration, deregistration, idleMetric, webhook: webhook?.function }, groupCondition)
      .addSecretPrefix(this.names.secretPrefix);
    this.functionsReadingDirectory = [registration, deregistration, idleMetric, agent.function, ...(webhook ? [webhook.function] : [])];

    const target = (fn: lambda.IFunction) => this.target(fn);
    // The rules match the hooks this control plane names, not the fleets' groups: they stay the same as
    // fleets join, in this stack or in others (an event pattern allows 2,048 characters).
    new events.Rule(this, 'LaunchRule', {
      description: 'Runner instances going into service: register a runner',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-launch Lifecycle Action'],
        // Launches into the warm pool are prepared and completed by the instance itself.
        detail: { LifecycleHookName: [this.names.launchHookName], Destination: ['AutoScalingGroup'] },
      },
      targets: [target(registration)],
    });
    new events.Rule(this, 'TerminateRule', {
      description: 'Runner instances terminating or returning to the warm pool: remove the runner',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { LifecycleHookName: [this.names.terminateHookName] },
      },
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

    if (props.controlPlaneName !== undefined) {
      // Fleets of other apps may join at any time: the functions read the directory, spot warnings reach them.
      this.readFleetDirectory();
      this.addSpotRule();
      publishAttributes(this, this.names, this.controlPlaneId, {
        'agent-url': this.instanceAgentUrl,
        'agent-function-arn': agent.function.functionArn,
        'registration-function-arn': registration.functionArn,
        'deregistration-function-arn': deregistration.functionArn,
        'idle-metric-function-arn': idleMetric.functionArn,
        'dead-letter-queue-arn': deadLetterQueue.queueArn,
      });
    }

    this.node.addValidation({
      validate: () => props.controlPlaneName === undefined && this.fleets.length + this.remoteFleets.length === 0
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
      [`AwsSolutions-IAM5[Resource::${nagArn('secretsmanager', `secret:${this.names.secretPrefix}*`)}]`, NAG_REASONS.controlPlaneSecrets],
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
    return [...this.fleets.map((f) => f.name), ...this.remoteFleets];
  }


  /**
   * Adds a fleet: its lifecycle events, its secrets and its runners become this control plane's.
   * Called by `GitHubRunnerFleet`. A fleet of another stack (`options.fleet`) joins through the fleet
   * directory: the parameter it is given is returned (its group should depend on it).
   *
   * @internal
   */
  public _addFleet(entry: FleetRuntimeEntry, options: { readonly spot?: boolean; readonly fleet?: IConstruct } = {}): IConstruct | undefined {
    if (!Token.isUnresolved(entry.name) && this.fleetNames.includes(entry.name)) {
      // Reported at synth with every other mistake; the second fleet of the name is left out.
      this.mistakes.add(`fleetName ${JSON.stringify(entry.name)} is used by two fleets of the control plane ${this.node.path}: give each fleet its own fleetName`);
      return undefined;
    }
    const signature = routingSignature(entry);
    const twin = [...this.fleets, ...this.remoteEntries].find((f) => routingSignature(f) === signature);
    if (twin && !Token.isUnresolved(signature)) {
      Annotations.of(this).addWarningV2('cdk-github-runner-fleet:OverlappingFleets',
        `fleets ${twin.name} and ${entry.name} answer to the same labels (${signature}): a queued job's demand goes to ${twin.name}, `
        + `the first declared, and GitHub gives the job to whichever runner asks first. Give ${entry.name} a label of its own if its jobs are different.`);
    }
    let joined: IConstruct | undefined;
    if (options.fleet && Stack.of(options.fleet) !== Stack.of(this)) {
      joined = this.addRemoteFleet(options.fleet, entry);
    } else {
      this.fleets.push(entry);
    }
    if (options.spot) {
      this.addSpotRule();
    }
    return joined;
  }

  /** Spot interruption warnings reach the deregistration function (once per control plane). */
  private addSpotRule(): void {
    this.spotRule ??= new events.Rule(this, 'SpotInterruptionRule', {
      description: 'Spot interruption warnings: counted for the fleet of the instance (the instance stops taking jobs itself)',
      eventPattern: { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
      targets: [this.target(this.deregistrationFunction)],
    });
  }

  /**
   * A fleet of another stack joins through a parameter of the fleet directory, in its own stack: nothing of
   * the fleet's stack (its instance role's generated name) travels into this one, which the fleet's stack
   * refers to already (the agent's URL): the stacks deploy in that order, with no cycle.
   */
  private addRemoteFleet(fleet: IConstruct, entry: FleetRuntimeEntry): IConstruct {
    this.readFleetDirectory();
    this.remoteFleets.push(entry.name);
    this.remoteEntries.push(entry);
    return joinFleetDirectory(fleet, this.names, this.controlPlaneId, entry);
  }

  /** The functions serve the fleets of the directory too (once per control plane). */
  private readFleetDirectory(): void {
    if (this.readsDirectory) {
      return;
    }
    this.readsDirectory = true;
    grantFleetDirectory(this.functionsReadingDirectory, this.names.fleetDirectory);
    acknowledge(this, [[`AwsSolutions-IAM5[Resource::${nagArn('ssm', `parameter${this.names.fleetDirectory}*`)}]`, NAG_REASONS.fleetDirectory]]);
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
