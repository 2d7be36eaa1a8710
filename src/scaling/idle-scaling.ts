import { Duration } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwactions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Construct } from 'constructs';
import { demandSteps, scaleInSteps, scaleOutSteps, StepPlan } from './step-intervals';

export interface IdleRunnerScalingProps {
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /** The idle-runner metric of the fleet. */
  readonly idleRunners: cloudwatch.IMetric;
  readonly idleTarget: number;
  readonly maxCapacity: number;
  readonly period: Duration;
  readonly scaleOutEvaluationPeriods: number;
  readonly scaleInEvaluationPeriods: number;
  readonly estimatedInstanceWarmup: Duration;
  /**
   * The fleet's runner demand (with a webhook): the scale-out alarm watches it instead of the idle
   * runners, with its own period.
   */
  readonly demand?: cloudwatch.IMetric;
}

/**
 * Two alarms on the idle-runner metric and a step scaling policy behind each: too few idle runners adds
 * the whole deficit in one step; too many removes the excess (Auto Scaling never picks an instance
 * protected from scale-in, which is what a runner running a job is).
 */
export class IdleRunnerScaling extends Construct {
  /**
   * Fires when fewer runners than the target are idle (absent when the target is 0), or, with a demand
   * signal, when the runner demand is 1 or more.
   */
  public readonly scaleOutAlarm?: cloudwatch.Alarm;
  /** Fires when more runners than the target are idle. */
  public readonly scaleInAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: IdleRunnerScalingProps) {
    super(scope, id);

    if (props.demand) {
      const plan = demandSteps(props.maxCapacity);
      const action = this.stepAction('ScaleOutAction', props, plan, props.estimatedInstanceWarmup);
      this.scaleOutAlarm = new cloudwatch.Alarm(this, 'RunnerDemandAlarm', {
        metric: props.demand,
        threshold: plan.threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // Demand is published on every delivery and once a minute: between points there is nothing to add.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Queued jobs and the idle target exceed the idle runners: add the whole demand in one step',
      });
      this.scaleOutAlarm.addAlarmAction(new cwactions.AutoScalingAction(action));
    } else if (props.idleTarget > 0) {
      const plan = scaleOutSteps(props.idleTarget, props.maxCapacity);
      const action = this.stepAction('ScaleOutAction', props, plan, props.estimatedInstanceWarmup);
      this.scaleOutAlarm = new cloudwatch.Alarm(this, 'IdleRunnersLowAlarm', {
        metric: props.idleRunners,
        threshold: plan.threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: props.scaleOutEvaluationPeriods,
        // No data (the metric function failing, GitHub down) must not add instances.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Fewer than ${props.idleTarget} idle runners: add the deficit in one step`,
      });
      this.scaleOutAlarm.addAlarmAction(new cwactions.AutoScalingAction(action));
    }

    const inPlan = scaleInSteps(props.idleTarget, props.maxCapacity);
    const inAction = this.stepAction('ScaleInAction', props, inPlan);
    this.scaleInAlarm = new cloudwatch.Alarm(this, 'IdleRunnersHighAlarm', {
      metric: props.idleRunners,
      threshold: inPlan.threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: props.scaleInEvaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `More than ${props.idleTarget} idle runners: remove the excess (never a busy runner)`,
    });
    this.scaleInAlarm.addAlarmAction(new cwactions.AutoScalingAction(inAction));
  }

  private stepAction(id: string, props: IdleRunnerScalingProps, plan: StepPlan, warmup?: Duration): autoscaling.StepScalingAction {
    const action = new autoscaling.StepScalingAction(this, id, {
      autoScalingGroup: props.autoScalingGroup,
      adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: autoscaling.MetricAggregationType.AVERAGE,
      estimatedInstanceWarmup: warmup,
    });
    for (const interval of plan.intervals) {
      action.addAdjustment({
        adjustment: interval.change,
        lowerBound: interval.lowerBound,
        upperBound: interval.upperBound,
      });
    }
    return action;
  }
}
