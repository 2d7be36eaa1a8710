import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../contract';
import { DeregistrationFunction } from '../generated/deregistration-function';
import { IdleMetricFunction } from '../generated/idle-metric-function';
import { RegistrationFunction } from '../generated/registration-function';
import { GitHubConnection } from '../github/connection';
import { autoScalingGroupArnPattern, fleetGroupCondition, instanceSecretArnPattern } from '../instances/instance-role';
import { acknowledge, NAG_REASONS, nagArn } from '../nag';

export interface FleetControlPlaneProps {
  readonly github: GitHubConnection;
  readonly config: FleetRuntimeConfig;
  readonly fleetName: string;
  readonly secretPrefix: string;
  readonly autoScalingGroupName: string;
  readonly sweepInterval: Duration;
}

/**
 * The three functions of a fleet, the EventBridge rules that invoke them, their dead-letter queue and
 * their least-privilege grants.
 */
export class FleetControlPlane extends Construct {
  public readonly registrationFunction: lambda.Function;
  public readonly deregistrationFunction: lambda.Function;
  public readonly idleMetricFunction: lambda.Function;
  /** Lifecycle and schedule events that could not be delivered after retries. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: FleetControlPlaneProps) {
    super(scope, id);
    const environment = { [ENV_FLEET_CONFIG]: Stack.of(this).toJsonString(props.config) };

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const functionProps = (description: string, timeout: Duration) => ({
      description,
      timeout,
      memorySize: 256,
      environment,
      architecture: lambda.Architecture.ARM_64,
      logGroup: new logs.LogGroup(this, `${description.split(':')[0]}Logs`, { retention: logs.RetentionDays.ONE_MONTH }),
    });
    this.registrationFunction = new RegistrationFunction(this, 'RegistrationFunction',
      functionProps('Registration: registers a runner for an instance going into service', Duration.minutes(1)));
    this.deregistrationFunction = new DeregistrationFunction(this, 'DeregistrationFunction',
      functionProps('Deregistration: removes runners of terminating instances and sweeps orphans', Duration.minutes(5)));
    this.idleMetricFunction = new IdleMetricFunction(this, 'IdleMetricFunction',
      functionProps('IdleMetric: publishes idle, busy and offline runner counts', Duration.minutes(1)));

    for (const fn of [this.registrationFunction, this.deregistrationFunction, this.idleMetricFunction]) {
      props.github.credentials.secret.grantRead(fn);
    }
    this.grantRegistration(props);
    this.grantDeregistration(props);
    this.addRules(props);

    acknowledge(this.deadLetterQueue, [['AwsSolutions-SQS3', 'This queue is the dead-letter queue of the EventBridge targets; a dead-letter queue needs none of its own.']]);
    acknowledge(this, [
      ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', NAG_REASONS.lambdaBasicRole],
      ['AwsSolutions-L1', NAG_REASONS.nodeRuntime],
      [`AwsSolutions-IAM5[Resource::${nagArn('secretsmanager', `secret:${props.secretPrefix}*`)}]`, NAG_REASONS.secretPrefix],
      [`AwsSolutions-IAM5[Resource::${nagArn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*')}]`, NAG_REASONS.groupPattern],
      ['AwsSolutions-IAM5[Resource::*]', NAG_REASONS.describeStar],
    ]);
  }

  private grantRegistration(props: FleetControlPlaneProps): void {
    const fn = this.registrationFunction;
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'WriteInstanceSecrets',
      actions: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource'],
      resources: [instanceSecretArnPattern(props.secretPrefix)],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CompleteLaunchActions',
      actions: ['autoscaling:CompleteLifecycleAction'],
      resources: [autoScalingGroupArnPattern()],
      conditions: fleetGroupCondition(props.fleetName),
    }));
  }

  private grantDeregistration(props: FleetControlPlaneProps): void {
    const fn = this.deregistrationFunction;
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DeleteInstanceSecrets',
      actions: ['secretsmanager:DeleteSecret'],
      resources: [instanceSecretArnPattern(props.secretPrefix)],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ListInstanceSecrets',
      actions: ['secretsmanager:ListSecrets'],
      resources: ['*'],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CompleteTerminateActions',
      actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
      resources: [autoScalingGroupArnPattern()],
      conditions: fleetGroupCondition(props.fleetName),
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DescribeGroupInstances',
      actions: [
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeWarmPool',
        'autoscaling:DescribeScalingActivities',
      ],
      resources: ['*'],
    }));
  }

  private addRules(props: FleetControlPlaneProps): void {
    const target = (fn: lambda.IFunction) => new targets.LambdaFunction(fn, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(1),
    });

    new events.Rule(this, 'LaunchRule', {
      description: `Instances of ${props.fleetName} going into service: register a runner`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-launch Lifecycle Action'],
        // Launches into the warm pool are prepared and completed by the instance itself.
        detail: { AutoScalingGroupName: [props.autoScalingGroupName], Destination: ['AutoScalingGroup'] },
      },
      targets: [target(this.registrationFunction)],
    });
    new events.Rule(this, 'TerminateRule', {
      description: `Instances of ${props.fleetName} terminating or returning to the warm pool: remove the runner`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [props.autoScalingGroupName] },
      },
      targets: [target(this.deregistrationFunction)],
    });
    new events.Rule(this, 'SweepSchedule', {
      description: `Sweep of ${props.fleetName}: orphaned runners and secrets, draining instances`,
      schedule: events.Schedule.rate(props.sweepInterval),
      targets: [target(this.deregistrationFunction)],
    });
    new events.Rule(this, 'IdleMetricSchedule', {
      description: `Idle, busy and offline runners of ${props.fleetName}, every minute`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [target(this.idleMetricFunction)],
    });
  }
}
