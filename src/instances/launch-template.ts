import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RunnerOperatingSystem } from './operating-system';
import { BootstrapOptions, renderUserData, userDataSizeProblem } from './user-data';

export interface RunnerLaunchTemplateProps {
  /** What the bootstrap script is given (the fleet maps its settings to it). */
  readonly bootstrap: BootstrapOptions;
  readonly instanceType: ec2.InstanceType;
  readonly operatingSystem: RunnerOperatingSystem;
  readonly rootVolumeGiB: number;
  /** The instances of a hibernated warm pool must be launched with hibernation configured. */
  readonly hibernated: boolean;
  readonly machineImage?: ec2.IMachineImage;
  readonly role: iam.IRole;
  readonly securityGroup: ec2.ISecurityGroup;
  /** Told what is wrong with the user data (its size), to be reported at synth. */
  readonly onProblem: (message: string) => void;
}

/**
 * The runners' launch template: the image for the instance type's architecture, IMDSv2 with a hop limit
 * of 1 (containers cannot reach the metadata service), an encrypted gp3 root volume, no inbound access,
 * and the bootstrap user data.
 */
export function createLaunchTemplate(scope: Construct, id: string, props: RunnerLaunchTemplateProps): ec2.LaunchTemplate {
  const userData = renderUserData(props.bootstrap);
  const problem = userDataSizeProblem(userData, props.bootstrap.extraCommands);
  if (problem !== undefined) {
    props.onProblem(problem);
  }
  return new ec2.LaunchTemplate(scope, id, {
    machineImage: props.machineImage ?? props.operatingSystem._defaultImage(props.instanceType.architecture),
    instanceType: props.instanceType,
    role: props.role,
    securityGroup: props.securityGroup,
    userData: ec2.UserData.custom(userData),
    requireImdsv2: true,
    httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 1,
    httpEndpoint: true,
    hibernationConfigured: props.hibernated ? true : undefined,
    blockDevices: [{
      deviceName: props.operatingSystem.rootDeviceName,
      volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB, {
        encrypted: true,
        volumeType: ec2.EbsDeviceVolumeType.GP3,
        deleteOnTermination: true,
      }),
    }],
  });
}
