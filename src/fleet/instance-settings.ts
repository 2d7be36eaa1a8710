import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GitHubRunnerFleetProps } from './props';
import { wholeInRange } from './validate';

/** A fleet's spot settings, defaults applied and validated. */
export interface ResolvedSpot {
  readonly onDemandBaseCapacity: number;
  readonly onDemandPercentageAboveBaseCapacity: number;
  readonly allocationStrategy: autoscaling.SpotAllocationStrategy;
  readonly capacityRebalance: boolean;
}

/** The instance types of the fleet: `instanceTypes`, or `instanceType`, or the default; one architecture. */
export function resolveInstanceTypes(props: GitHubRunnerFleetProps): ec2.InstanceType[] {
  if (props.instanceType && props.instanceTypes) {
    throw new Error('instanceType and instanceTypes are both set: give instanceTypes alone (the first is preferred), or instanceType alone');
  }
  if (props.instanceTypes) {
    if (props.instanceTypes.length === 0 || props.instanceTypes.length > 40) {
      throw new Error(`instanceTypes has ${props.instanceTypes.length} types: give 1 to 40 (the EC2 Auto Scaling limit of a mixed instances policy)`);
    }
    const names = props.instanceTypes.map((t) => t.toString());
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) {
      throw new Error(`instanceTypes lists ${duplicate} twice: list each type once`);
    }
    const architectures = new Set(props.instanceTypes.map((t) => t.architecture));
    if (architectures.size > 1) {
      throw new Error(`instanceTypes mixes architectures (${names.join(', ')}): the image and the runner follow one architecture; `
        + 'make one fleet for x86_64 and one for arm64 (Graviton)');
    }
    return [...props.instanceTypes];
  }
  return [props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M7I, ec2.InstanceSize.LARGE)];
}

export function resolveSpot(props: GitHubRunnerFleetProps, maxCapacity: number): ResolvedSpot | undefined {
  if (!props.spot) {
    return undefined;
  }
  const onDemandBaseCapacity = props.spot.onDemandBaseCapacity ?? 0;
  wholeInRange('spot.onDemandBaseCapacity', onDemandBaseCapacity, 0, maxCapacity, `use 0 to ${maxCapacity} (maxCapacity)`);
  const onDemandPercentageAboveBaseCapacity = props.spot.onDemandPercentageAboveBaseCapacity ?? 0;
  wholeInRange('spot.onDemandPercentageAboveBaseCapacity', onDemandPercentageAboveBaseCapacity, 0, 100, 'use a percentage from 0 to 100');
  return {
    onDemandBaseCapacity,
    onDemandPercentageAboveBaseCapacity,
    allocationStrategy: props.spot.allocationStrategy ?? autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
    capacityRebalance: props.spot.capacityRebalance ?? true,
  };
}
