import * as ssm from 'aws-cdk-lib/aws-ssm';
import { IConstruct } from 'constructs';
import { ControlPlaneNames } from './names';
import { fleetDirectoryValue } from './runtime-config';
import { FleetRuntimeEntry } from '../contract';

/**
 * A fleet of another stack than its control plane's joins the control plane's fleet directory: one
 * Standard SSM parameter in the fleet's own stack, `<directory><fleet name>`, holding the fleet's entry
 * (its deploy-time values, the instance role's generated name, resolve in the fleet's stack). The control
 * plane's functions read the directory by path, at most a minute late (sooner when they meet the
 * fleet's group or instances first).
 */
export function joinFleetDirectory(
  fleet: IConstruct, names: ControlPlaneNames, controlPlaneId: string, entry: FleetRuntimeEntry,
): ssm.StringParameter {
  return new ssm.StringParameter(fleet, 'ControlPlaneEntry', {
    parameterName: `${names.fleetDirectory}${entry.name}`,
    description: `cdk-github-runner-fleet: fleet ${entry.name} of control plane ${controlPlaneId} (read by its functions)`,
    stringValue: fleetDirectoryValue(fleet, entry),
    tier: ssm.ParameterTier.STANDARD,
  });
}
