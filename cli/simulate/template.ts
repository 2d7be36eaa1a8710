import { existsSync, readFileSync, readdirSync, statSync } from 'fs';
import { join } from 'path';
import { unpackFleetConfig } from '../../lambda/adapters/runtime';
import { parseFleetConfig, withDirectoryFleets } from '../../lambda/core/config';
import { DIMENSION_FLEET, ENV_FLEET_CONFIG } from '../../src/contract';
import type { FleetRuntimeConfig, FleetRuntimeEntry } from '../../src/contract';

/** One step adjustment, as in the template: bounds on `metric - threshold`. */
export interface StepModel {
  readonly lower?: number;
  readonly upper?: number;
  readonly change: number;
}

/** A scaling policy an alarm invokes. */
export interface PolicyModel {
  readonly kind: 'step' | 'simple';
  readonly adjustmentType: 'ChangeInCapacity' | 'ExactCapacity';
  /** Step policies. */
  readonly steps: StepModel[];
  /** Simple policies: the adjustment and the cooldown (seconds). */
  readonly adjustment?: number;
  readonly cooldown?: number;
  /** Step policies: the instance warm-up in seconds (the policy's, else the group's default); undefined when neither is set. */
  readonly warmup?: number;
}

/** A CloudWatch alarm on one of the fleet's metrics, with the policy it invokes. */
export interface AlarmModel {
  readonly id: string;
  readonly metricName: string;
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparison: 'GreaterThanThreshold' | 'GreaterThanOrEqualToThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';
  readonly statistic: 'Average' | 'Maximum' | 'Minimum' | 'Sum' | 'SampleCount';
  readonly policies: PolicyModel[];
}

export interface WarmPoolModel {
  readonly minSize: number;
  /** Undefined: the group's maximum size. */
  readonly maxGroupPreparedCapacity?: number;
  readonly reuseOnScaleIn: boolean;
  readonly poolState: string;
}

/** Everything the simulator takes from a synthesized template for one fleet. */
export interface FleetModel {
  readonly stack: string;
  /** The control plane's runtime configuration, with only this fleet in it. */
  readonly config: FleetRuntimeConfig;
  readonly fleet: FleetRuntimeEntry;
  readonly minSize: number;
  readonly maxSize: number;
  readonly warmPool?: WarmPoolModel;
  readonly alarms: AlarmModel[];
}

type Resource = { Type: string; Properties?: Record<string, any> };
type Template = { Resources?: Record<string, Resource> };

/**
 * Reads the fleets of a cloud assembly (`cdk.out`), or of one template file. Throws naming the path and
 * the fix when there is no assembly or no fleet in it.
 */
export function readFleets(app: string): FleetModel[] {
  if (!existsSync(app)) {
    throw new Error(`--app ${app}: no such file or directory. Synthesize first (npx cdk synth, or npm run example), or give --app the cdk.out folder`);
  }
  const templates: Array<{ stack: string; template: Template }> = [];
  if (statSync(app).isDirectory()) {
    for (const file of readdirSync(app).filter((f) => f.endsWith('.template.json')).sort()) {
      templates.push({ stack: file.replace(/\.template\.json$/, ''), template: JSON.parse(readFileSync(join(app, file), 'utf8')) });
    }
  } else {
    templates.push({ stack: app.replace(/^.*\//, '').replace(/\.template\.json$/, ''), template: JSON.parse(readFileSync(app, 'utf8')) });
  }
  const fleets = fleetsOfTemplates(templates);
  if (fleets.length === 0) {
    throw new Error(`--app ${app}: no GitHubRunnerFleet found in ${templates.length} template(s): is this the cdk.out of an app with a fleet?`);
  }
  return fleets;
}

/** The fleets of one template. */
export function fleetsOfTemplate(stack: string, template: Template): FleetModel[] {
  return fleetsOfTemplates([{ stack, template }]);
}

/**
 * The fleets of the templates of one app: each control plane's configuration (its functions'
 * environment) with the fleets of other stacks that joined its fleet directory (their SSM parameters),
 * each fleet modelled from the template that holds its group.
 */
export function fleetsOfTemplates(templates: ReadonlyArray<{ stack: string; template: Template }>): FleetModel[] {
  const configs = new Map<string, FleetRuntimeConfig>();
  const parameters: Array<{ name: string; value: string }> = [];
  for (const { template } of templates) {
    for (const r of Object.values(template.Resources ?? {})) {
      const raw = r.Type === 'AWS::Lambda::Function' ? r.Properties?.Environment?.Variables?.[ENV_FLEET_CONFIG] : undefined;
      if (raw !== undefined) {
        const text = unpackFleetConfig(literal(raw))!;
        configs.set(text, parseFleetConfig(text));
      }
      if (r.Type === 'AWS::SSM::Parameter' && typeof r.Properties?.Name === 'string') {
        parameters.push({ name: r.Properties.Name, value: literal(r.Properties.Value) });
      }
    }
  }
  const models: FleetModel[] = [];
  const seen = new Set<string>();
  for (const own of configs.values()) {
    const directory = own.fleetDirectory;
    const config = directory === undefined ? own
      : withDirectoryFleets(own, parameters.filter((p) => p.name.startsWith(directory) && !p.name.slice(directory.length).includes('/'))).config;
    for (const fleet of config.fleets) {
      if (seen.has(fleet.name)) continue;
      const holder = templates.map(({ stack, template }) => ({ stack, resources: template.Resources ?? {} }))
        .map((t) => ({
          ...t,
          groupEntry: Object.entries(t.resources).find(([, r]) => r.Type === 'AWS::AutoScaling::AutoScalingGroup'
          && (r.Properties?.AutoScalingGroupName === fleet.autoScalingGroupName
            || r.Properties?.Tags?.some((tag: any) => tag.Key === 'github-runner-fleet:fleet' && tag.Value === fleet.name))),
        }))
        .find((t) => t.groupEntry !== undefined);
      if (!holder) continue;
      seen.add(fleet.name);
      const { stack, resources } = holder;
      const [groupId, group] = holder.groupEntry!;
      const refersToGroup = (v: unknown) => (v as any)?.Ref === groupId;
      const pool = Object.values(resources).find((r) => r.Type === 'AWS::AutoScaling::WarmPool' && refersToGroup(r.Properties?.AutoScalingGroupName));
      const groupWarmup = group.Properties?.DefaultInstanceWarmup;
      const alarms: AlarmModel[] = [];
      for (const [id, r] of Object.entries(resources)) {
        const p = r.Properties ?? {};
        if (r.Type !== 'AWS::CloudWatch::Alarm' || !p.Dimensions?.some((d: any) => d.Name === DIMENSION_FLEET && d.Value === fleet.name)) continue;
        const policies = (p.AlarmActions ?? []).map((a: any) => resources[a?.Ref]).filter((x: Resource | undefined) => x?.Type === 'AWS::AutoScaling::ScalingPolicy')
          .map((x: Resource) => policyOf(x, groupWarmup));
        if (policies.length === 0) continue;
        alarms.push({
          id,
          metricName: p.MetricName,
          period: Number(p.Period),
          evaluationPeriods: Number(p.EvaluationPeriods),
          datapointsToAlarm: Number(p.DatapointsToAlarm ?? p.EvaluationPeriods),
          threshold: Number(p.Threshold),
          comparison: p.ComparisonOperator,
          statistic: p.Statistic ?? 'Average',
          policies,
        });
      }
      models.push({
        stack,
        config: { ...config, fleets: [fleet] },
        fleet,
        minSize: Number(group.Properties?.MinSize ?? 0),
        maxSize: Number(group.Properties?.MaxSize ?? 1),
        warmPool: pool ? {
          minSize: Number(pool.Properties?.MinSize ?? 0),
          maxGroupPreparedCapacity: pool.Properties?.MaxGroupPreparedCapacity === undefined || Number(pool.Properties.MaxGroupPreparedCapacity) < 0
            ? undefined : Number(pool.Properties.MaxGroupPreparedCapacity),
          reuseOnScaleIn: pool.Properties?.InstanceReusePolicy?.ReuseOnScaleIn === true,
          poolState: pool.Properties?.PoolState ?? 'Stopped',
        } : undefined,
        alarms,
      });
    }
  }
  return models;
}

function policyOf(r: Resource, groupWarmup: unknown): PolicyModel {
  const p = r.Properties ?? {};
  if (p.PolicyType === 'SimpleScaling' || p.PolicyType === undefined) {
    return { kind: 'simple', adjustmentType: p.AdjustmentType, steps: [], adjustment: Number(p.ScalingAdjustment), cooldown: Number(p.Cooldown ?? 300) };
  }
  const warmup = p.EstimatedInstanceWarmup ?? groupWarmup;
  return {
    kind: 'step',
    adjustmentType: p.AdjustmentType,
    steps: (p.StepAdjustments ?? []).map((s: any) => ({
      lower: s.MetricIntervalLowerBound === undefined ? undefined : Number(s.MetricIntervalLowerBound),
      upper: s.MetricIntervalUpperBound === undefined ? undefined : Number(s.MetricIntervalUpperBound),
      change: Number(s.ScalingAdjustment),
    })),
    warmup: warmup === undefined ? undefined : Number(warmup),
  };
}

/** A deploy-time value (a secret's ARN, say) stands in as a placeholder: the simulator never calls AWS. */
function literal(value: unknown): string {
  if (typeof value === 'string') return value;
  const fnJoin = (value as any)?.['Fn::Join'];
  if (Array.isArray(fnJoin)) {
    return (fnJoin[1] as unknown[]).map((part) => (typeof part === 'string' ? part : literal(part))).join(fnJoin[0]);
  }
  if ((value as any)?.Ref !== undefined) return `simulated-${String((value as any).Ref)}`;
  return 'arn:aws:secretsmanager:us-east-1:123456789012:secret:simulated';
}
