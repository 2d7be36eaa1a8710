import { Duration, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwactions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Construct } from 'constructs';
import { excessSteps, gapSteps, StepPlan } from './step-intervals';
import { Mistakes } from '../validation';

export interface CapacityScalingProps {
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /**
   * The fleet's capacity gap (need - desired capacity, after the controller's direct path), without a
   * statistic or period: each alarm sets its own.
   */
  readonly gap: cloudwatch.Metric;
  readonly maxCapacity: number;
  /** The scale-out alarm's period (10, 20, 30 s or a multiple of 60). */
  readonly scaleOutPeriod: Duration;
  readonly scaleOutEvaluationPeriods: number;
  /** The scale-in alarm's period. */
  readonly scaleInPeriod: Duration;
  readonly scaleInEvaluationPeriods: number;
  /**
   * The step policies' instance warm-up. The gap already counts instances on the way (the desired
   * capacity), so 0 is right: a longer warm-up only blinds the group to new demand.
   */
  readonly estimatedInstanceWarmup: Duration;
}

/**
 * Two alarms on the capacity gap and a step scaling policy behind each: a positive gap adds exactly the
 * gap in one step (the highest point of a period: the controller publishes a gap measured against the
 * desired capacity of that moment, so the latest, largest point of a growing burst is the whole of it);
 * an excess that lasts for every point of its periods removes exactly the excess (the least excess seen),
 * and Auto Scaling never picks an instance protected from scale-in, which is what a runner running a
 * job is.
 */
export class CapacityScaling extends Construct {
  /** Fires when the fleet needs more capacity than it has or has on the way. */
  public readonly scaleOutAlarm: cloudwatch.Alarm;
  /** Fires when the fleet has had more capacity than it needs for every point of the scale-in periods. */
  public readonly scaleInAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CapacityScalingProps) {
    super(scope, id);
    // A mistake is reported at synth (the fleet's settings have checked these already); the step plans
    // and the alarms are built on a sound fallback meanwhile.
    const mistakes = new Mistakes();
    mistakes.attachTo(this);
    const whole = (name: string, value: number, min: number, fallback: number) => Token.isUnresolved(value) ? value
      : mistakes.valueOr(value, Number.isInteger(value) && value >= min, () => `${name} (${value}) must be a whole number >= ${min}`, fallback);
    const maxCapacity = whole('maxCapacity', props.maxCapacity, 1, 1);
    props = {
      ...props,
      maxCapacity,
      scaleOutEvaluationPeriods: whole('scaleOutEvaluationPeriods', props.scaleOutEvaluationPeriods, 1, 1),
      scaleInEvaluationPeriods: whole('scaleInEvaluationPeriods', props.scaleInEvaluationPeriods, 1, 1),
    };

    this.scaleOutAlarm = this.gapAlarm('CapacityGapHighAlarm', props, gapSteps(maxCapacity), {
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      period: props.scaleOutPeriod,
      evaluationPeriods: props.scaleOutEvaluationPeriods,
      alarmDescription: 'The fleet needs more capacity than it has or has on the way: add the whole gap in one step',
    }, 'ScaleOutAction');
    this.scaleInAlarm = this.gapAlarm('CapacityGapLowAlarm', props, excessSteps(maxCapacity), {
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      period: props.scaleInPeriod,
      evaluationPeriods: props.scaleInEvaluationPeriods,
      alarmDescription: 'The fleet has had more capacity than it needs: remove the excess (never an instance running a job)',
    }, 'ScaleInAction');
  }

  /**
   * An alarm on the gap and the step policy it invokes. Missing data never breaches: the gap is published
   * on every delivery and once a minute, between points there is nothing to do, and no data (the
   * controller failing) must not scale.
   */
  private gapAlarm(
    id: string,
    props: CapacityScalingProps,
    plan: StepPlan,
    options: Pick<cloudwatch.AlarmProps, 'comparisonOperator' | 'evaluationPeriods' | 'alarmDescription'> & { readonly period: Duration },
    actionId: string,
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric: props.gap.with({ period: options.period, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: plan.threshold,
      comparisonOperator: options.comparisonOperator,
      evaluationPeriods: options.evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: options.alarmDescription,
    });
    alarm.addAlarmAction(new cwactions.AutoScalingAction(this.stepAction(actionId, props, plan)));
    return alarm;
  }

  private stepAction(id: string, props: CapacityScalingProps, plan: StepPlan): autoscaling.StepScalingAction {
    const action = new autoscaling.StepScalingAction(this, id, {
      autoScalingGroup: props.autoScalingGroup,
      adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: autoscaling.MetricAggregationType.MAXIMUM,
      estimatedInstanceWarmup: props.estimatedInstanceWarmup,
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
