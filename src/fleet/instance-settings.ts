import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GitHubRunnerFleetProps } from './props';
import { wholeInRange } from './validate';
import { Mistakes } from '../validation';

/** A fleet's spot settings, defaults applied and validated. */
export interface ResolvedSpot {
  readonly onDemandBaseCapacity: number;
  readonly onDemandPercentageAboveBaseCapacity: number;
  readonly allocationStrategy: autoscaling.SpotAllocationStrategy;
  readonly capacityRebalance: boolean;
}

const DEFAULT_INSTANCE_TYPE = ec2.InstanceType.of(ec2.InstanceClass.M7I, ec2.InstanceSize.LARGE);

/**
 * The instance types of the fleet: `instanceTypes`, or `instanceType`, or the default; one architecture.
 * Mistakes are recorded; the fallback keeps what can be kept (`instanceType` alone, each type once, the
 * types of the first one's architecture, at most 40).
 */
export function resolveInstanceTypes(props: GitHubRunnerFleetProps, mistakes: Mistakes): ec2.InstanceType[] {
  if (props.instanceType && props.instanceTypes) {
    mistakes.add('instanceType and instanceTypes are both set: give instanceTypes alone (the first is preferred), or instanceType alone');
    return [props.instanceType];
  }
  if (props.instanceTypes) {
    let types = [...props.instanceTypes];
    if (!mistakes.check(types.length > 0 && types.length <= 40,
      `instanceTypes has ${types.length} types: give 1 to 40 (the EC2 Auto Scaling limit of a mixed instances policy)`)) {
      types = types.length === 0 ? [props.instanceType ?? DEFAULT_INSTANCE_TYPE] : types.slice(0, 40);
    }
    const names = types.map((t) => t.toString());
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (!mistakes.check(duplicate === undefined, () => `instanceTypes lists ${duplicate} twice: list each type once`)) {
      types = types.filter((_, i) => names.indexOf(names[i]) === i);
    }
    const architectures = new Set(types.map((t) => t.architecture));
    if (!mistakes.check(architectures.size <= 1, () => `instanceTypes mixes architectures (${types.map((t) => t.toString()).join(', ')}): `
      + 'the image and the runner follow one architecture; make one fleet for x86_64 and one for arm64 (Graviton)')) {
      types = types.filter((t) => t.architecture === types[0].architecture);
    }
    return types;
  }
  return [props.instanceType ?? DEFAULT_INSTANCE_TYPE];
}

/** The spot settings, defaults applied; a value out of range is recorded and replaced by its default. */
export function resolveSpot(props: GitHubRunnerFleetProps, maxCapacity: number, mistakes: Mistakes): ResolvedSpot | undefined {
  if (!props.spot) {
    return undefined;
  }
  const onDemandBaseCapacity = wholeInRange(mistakes, 'spot.onDemandBaseCapacity', props.spot.onDemandBaseCapacity ?? 0, 0, maxCapacity,
    `use 0 to ${maxCapacity} (maxCapacity)`, 0);
  const onDemandPercentageAboveBaseCapacity = wholeInRange(mistakes, 'spot.onDemandPercentageAboveBaseCapacity',
    props.spot.onDemandPercentageAboveBaseCapacity ?? 0, 0, 100, 'use a percentage from 0 to 100', 0);
  return {
    onDemandBaseCapacity,
    onDemandPercentageAboveBaseCapacity,
    allocationStrategy: props.spot.allocationStrategy ?? autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
    capacityRebalance: props.spot.capacityRebalance ?? true,
  };
}
