import { Annotations, Duration, Names, Tags, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { GitHubRunnerFleetProps } from './props';
import { FleetSettings, resolveFleetSettings } from './settings';
import { bootstrapOptions, fleetRuntimeEntry } from './shapes';
import { watchStackLimits } from './stack-limits';
import { MetricNames, TagKeys } from '../contract';
import { createInstanceRole } from '../instances/instance-role';
import { createLaunchTemplate } from '../instances/launch-template';
import { GitHubRunnerControlPlane } from '../lifecycle/control-plane';
import { IGitHubRunnerControlPlane } from '../lifecycle/control-plane-reference';
import { joinFleetDirectory } from '../lifecycle/fleet-directory';
import { controlPlaneNames, fleetSecretPrefix } from '../lifecycle/names';
import { acknowledge } from '../nag';
import { CapacityScaling } from '../scaling/capacity-scaling';
import { fleetMetric } from '../scaling/metrics';
import { fatalMistake, Mistakes } from '../validation';

const FLEET_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

/**
 * Self-hosted GitHub Actions runners on an EC2 Auto Scaling group.
 *
 * The group keeps a warm pool of prepared (not registered) instances; lifecycle hooks drive a
 * registration function (a just-in-time runner configuration or a registration token, in a secret only
 * that instance can read) and a deregistration function; the control plane's capacity controller (on
 * every webhook delivery and every minute) raises the desired capacity to the need and publishes the
 * capacity gap that drives step scaling, and runners running a job protect their instance from scale-in.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const secret: secretsmanager.ISecret;
 * new GitHubRunnerFleet(this, 'Linux', {
 *   vpc,
 *   github: GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) }),
 *   labels: ['linux', 'x64'],
 *   idleRunners: 1,
 *   maxCapacity: 20,
 * });
 */
export class GitHubRunnerFleet extends Construct implements ec2.IConnectable, iam.IGrantable {
  /** The Auto Scaling group of runner instances. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The runner instances' security group (no inbound rules). */
  public readonly connections: ec2.Connections;
  /** The runner instances' role: grant it what your jobs' instances need. */
  public readonly grantPrincipal: iam.IPrincipal;
  /** The runner instances' role. */
  public readonly role: iam.IRole;
  /** The launch template. */
  public readonly launchTemplate: ec2.LaunchTemplate;
  /** The fleet's name: metric dimension, runner name prefix, secret prefix. */
  public readonly fleetName: string;
  /** The label that marks this fleet's runners at GitHub (added to `labels`). */
  public readonly fleetLabel: string;
  /** Every custom label the runners register with. */
  public readonly labels: string[];
  /** The control plane serving this fleet (shared with the other fleets of its GitHub connection). */
  public readonly controlPlane: IGitHubRunnerControlPlane;
  /** Registers runners for instances going into service (the control plane's). */
  public readonly registrationFunction: lambda.IFunction;
  /** Removes runners of terminating instances; sweeps orphans (the control plane's). */
  public readonly deregistrationFunction: lambda.IFunction;
  /** Publishes the idle, busy and offline runner counts every minute (the control plane's). */
  public readonly idleMetricFunction: lambda.IFunction;
  /** Events the functions could not take after retries (the control plane's). */
  public readonly deadLetterQueue: sqs.IQueue;
  /**
   * Fires when the fleet needs more capacity than it has or has on the way (the capacity gap is 1 or
   * more): its step policy adds the whole gap in one step.
   */
  public readonly scaleOutAlarm: cloudwatch.IAlarm;
  /** Fires when the fleet has had more capacity than it needs for the scale-in periods: removes the excess. */
  public readonly scaleInAlarm: cloudwatch.IAlarm;

  constructor(scope: Construct, id: string, props: GitHubRunnerFleetProps) {
    super(scope, id);
    // Only what construction cannot go on without throws here; every other mistake is recorded, given a
    // sound fallback, and reported with the others when the app is synthesized.
    if (!props) {
      fatalMistake(this, 'props are missing: pass at least { vpc, github, labels }');
    }
    if (!props.vpc) {
      fatalMistake(this, 'vpc is missing: pass the ec2.IVpc the runners run in');
    }
    if (!props.github && !props.controlPlane) {
      fatalMistake(this, 'github is missing: pass GitHubConnection.organization(...) or GitHubConnection.repository(...), or a GitHubRunnerControlPlane as controlPlane');
    }
    const mistakes = new Mistakes();
    mistakes.attachTo(this);
    mistakes.check(!props.github || !props.controlPlane || props.github === props.controlPlane.github,
      () => `github and controlPlane (${props.controlPlane!.node.path}) name different GitHub connections: pass only controlPlane, or the connection the control plane was created with`);
    this.controlPlane = props.controlPlane ?? GitHubRunnerControlPlane.forConnection(this, props.github!);
    const settings = resolveFleetSettings(props, mistakes, { demandSignal: this.controlPlane.hasWebhook });
    for (const warning of settings.warnings) {
      Annotations.of(this).addWarningV2(`cdk-github-runner-fleet:${warning.id}`, warning.message);
    }

    const generatedName = () => Names.uniqueResourceName(this, { maxLength: 32, separator: '-' }).replace(/[^A-Za-z0-9-]/g, '');
    const fleetName = props.fleetName ?? generatedName();
    // A name that is none falls back to the generated one: it names the group, the secrets and the runners.
    this.fleetName = mistakes.valueOr(fleetName, Token.isUnresolved(fleetName) || FLEET_NAME_PATTERN.test(fleetName),
      () => `fleetName (${JSON.stringify(fleetName)}) must be 1-32 letters, digits or hyphens, starting and ending with a letter or digit (e.g. "linux-x64")`,
      generatedName());
    this.fleetLabel = `fleet-${this.fleetName.toLowerCase()}`;
    this.labels = [...settings.labels.filter((l) => l.toLowerCase() !== this.fleetLabel), this.fleetLabel];
    const names = controlPlaneNames(this.controlPlane.controlPlaneId);
    const secretPrefix = fleetSecretPrefix(names, this.fleetName);

    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    if (subnets.subnets.some((s) => props.vpc.publicSubnets.includes(s))) {
      Annotations.of(this).addWarningV2('cdk-github-runner-fleet:PublicSubnets',
        'vpcSubnets selects public subnets: runners get public IP addresses. Prefer private subnets with a NAT gateway.');
    }

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `GitHub runners of ${this.fleetName}: outbound only`,
      allowAllOutbound: true,
    });
    this.connections = new ec2.Connections({ securityGroups: [securityGroup] });
    // The instances reach Auto Scaling only through the control plane's instance agent, for themselves.
    const role = createInstanceRole(this, 'InstanceRole', {
      fleetName: this.fleetName, secretPrefix, agentFunctionArn: this.controlPlane.instanceAgentFunction.functionArn,
    });
    this.role = role;
    this.grantPrincipal = role;
    this.launchTemplate = createLaunchTemplate(this, 'LaunchTemplate', {
      bootstrap: bootstrapOptions(settings, { secretPrefix, agentUrl: this.controlPlane.instanceAgentUrl }),
      instanceType: settings.instanceType,
      operatingSystem: settings.operatingSystem,
      rootVolumeGiB: settings.rootVolumeGiB,
      hibernated: settings.warmPool?.poolState === autoscaling.PoolState.HIBERNATED,
      machineImage: props.machineImage,
      role,
      securityGroup,
      onProblem: (message) => mistakes.add(message),
    });

    this.autoScalingGroup = this.createGroup(props, settings, subnets);

    Tags.of(this.autoScalingGroup).add(TagKeys.CONTROL_PLANE, this.controlPlane.controlPlaneId, { applyToLaunchedInstances: false });
    const entry = fleetRuntimeEntry(settings, {
      fleetName: this.fleetName,
      fleetLabel: this.fleetLabel,
      labels: this.labels,
      secretPrefix,
      // The literal name where there is one: the configuration then holds no deploy-time value.
      autoScalingGroupName: literalGroupName(this.fleetName) ?? this.autoScalingGroup.autoScalingGroupName,
      // Generated at deployment (a token here): the instance agent serves this role's sessions only.
      instanceRoleName: role.roleName,
      launchHookName: names.launchHookName,
      terminateHookName: names.terminateHookName,
    });
    // A control plane of this app takes the fleet (into its functions' environment, or through its fleet
    // directory from another stack); one imported from another app is joined through its directory.
    const joined = this.controlPlane instanceof GitHubRunnerControlPlane
      ? this.controlPlane._addFleet(entry, { spot: settings.spot !== undefined, fleet: this })
      : joinFleetDirectory(this, names, this.controlPlane.controlPlaneId, entry);
    if (joined) {
      // The control plane knows the fleet before its group launches anything.
      this.autoScalingGroup.node.addDependency(joined);
    }
    const controlPlane = this.controlPlane;
    this.registrationFunction = controlPlane.registrationFunction;
    this.deregistrationFunction = controlPlane.deregistrationFunction;
    this.idleMetricFunction = controlPlane.idleMetricFunction;
    this.deadLetterQueue = controlPlane.deadLetterQueue;

    const scaling = new CapacityScaling(this, 'Scaling', {
      autoScalingGroup: this.autoScalingGroup,
      gap: this.metricCapacityGap(),
      maxCapacity: settings.maxCapacity,
      scaleOutPeriod: settings.demandPeriod,
      scaleOutEvaluationPeriods: settings.scaleOutEvaluationPeriods,
      scaleInPeriod: settings.period,
      scaleInEvaluationPeriods: settings.scaleInEvaluationPeriods,
      estimatedInstanceWarmup: settings.estimatedInstanceWarmup,
    });
    this.scaleOutAlarm = scaling.scaleOutAlarm;
    this.scaleInAlarm = scaling.scaleInAlarm;
    // A stack over CloudFormation's limits (500 resources, 1 MB) is reported at synth, with the fix.
    watchStackLimits(this);
  }

  /** Runners of this fleet online and not running a job (average per minute). */
  public metricIdleRunners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.IDLE_RUNNERS, this.fleetName, props);
  }

  /** Runners of this fleet running a job. */
  public metricBusyRunners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.BUSY_RUNNERS, this.fleetName, props);
  }

  /** Runners of this fleet registered but offline. */
  public metricOfflineRunners(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.OFFLINE_RUNNERS, this.fleetName, props);
  }

  /**
   * With a webhook: jobs routed to this fleet and still queued (published on every delivery, at 1-second
   * resolution, and once a minute).
   */
  public metricQueuedJobs(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.QUEUED_JOBS, this.fleetName, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /**
   * The capacity the fleet needs less its desired capacity, after the control plane's direct path
   * (published on every delivery and once a minute, at 1-second resolution; maximum by default). The
   * scaling alarms watch it: positive adds that many instances, a lasting negative value removes them.
   */
  public metricCapacityGap(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.CAPACITY_GAP, this.fleetName, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /** The capacity the fleet needs: running and waiting jobs plus the idle target, within min..max (maximum by default). */
  public metricCapacityNeeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.CAPACITY_NEEDED, this.fleetName, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /** With a webhook: seconds from a job's queued delivery to its in_progress delivery (average by default). */
  public metricJobStartSeconds(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.JOB_START_SECONDS, this.fleetName, props);
  }

  /** Launch actions abandoned because a runner could not be registered (sum per period). */
  public metricRegistrationFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return fleetMetric(MetricNames.REGISTRATION_FAILURES, this.fleetName, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  private createGroup(props: GitHubRunnerFleetProps, settings: FleetSettings, subnets: ec2.SelectedSubnets): autoscaling.AutoScalingGroup {
    const mixed = settings.spot !== undefined || settings.instanceTypes.length > 1;
    const group = new autoscaling.AutoScalingGroup(this, 'AutoScalingGroup', {
      // A literal name keeps the control plane's configuration free of deploy-time values, so that it
      // can be compressed for many fleets. Fleet names are unique (metrics and secrets are keyed on them).
      autoScalingGroupName: literalGroupName(this.fleetName),
      vpc: props.vpc,
      vpcSubnets: { subnets: subnets.subnets },
      ...(mixed ? {
        mixedInstancesPolicy: {
          launchTemplate: this.launchTemplate,
          launchTemplateOverrides: settings.instanceTypes.map((instanceType) => ({ instanceType })),
          instancesDistribution: {
            // The types are listed in order of preference.
            onDemandAllocationStrategy: autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
            onDemandBaseCapacity: settings.spot?.onDemandBaseCapacity ?? 0,
            onDemandPercentageAboveBaseCapacity: settings.spot ? settings.spot.onDemandPercentageAboveBaseCapacity : 100,
            spotAllocationStrategy: settings.spot?.allocationStrategy,
          },
        },
        capacityRebalance: settings.spot?.capacityRebalance,
      } : { launchTemplate: this.launchTemplate }),
      minCapacity: settings.minCapacity,
      maxCapacity: settings.maxCapacity,
      maxInstanceLifetime: settings.maxInstanceLifetime,
      // Runners are protected from scale-in by their job-started hook, not at launch.
      newInstancesProtectedFromScaleIn: false,
      // The capacity gap counts instances on their way already: no warm-up has to keep a step from being
      // applied twice, and scale-in is never held back by an instance warming up (AWS recommends setting
      // the default warm-up, even to 0, for step scaling).
      defaultInstanceWarmup: Duration.seconds(0),
      // Desired capacity belongs to the scaling policies: a deployment must not reset it.
      desiredCapacity: undefined,
    });
    acknowledge(group, [['AwsSolutions-AS3',
      'Every launch and termination goes through lifecycle hooks whose events reach the fleet\'s functions through EventBridge; SNS notifications would duplicate them.']]);
    Tags.of(group).add(TagKeys.FLEET, this.fleetName, { applyToLaunchedInstances: true });

    group.addLifecycleHook('LaunchHook', {
      lifecycleHookName: controlPlaneNames(this.controlPlane.controlPlaneId).launchHookName,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
      heartbeatTimeout: settings.launchTimeout,
      // An instance that neither registered nor prepared in time is replaced.
      defaultResult: autoscaling.DefaultResult.ABANDON,
    });
    group.addLifecycleHook('TerminateHook', {
      lifecycleHookName: controlPlaneNames(this.controlPlane.controlPlaneId).terminateHookName,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      // The function completes at once unless the runner is busy; then the sweep sends heartbeats.
      // Three sweeps long, so that a missed sweep does not let a busy runner's instance go.
      heartbeatTimeout: Duration.seconds(Math.min(7200, Math.max(300, 3 * this.controlPlane.sweepInterval.toSeconds()))),
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });
    if (settings.warmPool) {
      group.addWarmPool({
        poolState: settings.warmPool.poolState,
        minSize: settings.warmPool.minSize,
        maxGroupPreparedCapacity: settings.warmPool.maxGroupPreparedCapacity,
        reuseOnScaleIn: settings.warmPool.reuseOnScaleIn,
      });
    }
    return group;
  }
}

/** The Auto Scaling group's name for a fleet with a literal name. */
function literalGroupName(fleetName: string): string | undefined {
  return Token.isUnresolved(fleetName) ? undefined : `github-runner-fleet-${fleetName}`;
}
