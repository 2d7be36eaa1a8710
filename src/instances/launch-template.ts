import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { renderUserData } from './user-data';
import { FleetSettings, runnerArchitecture } from '../fleet/settings';

export interface RunnerLaunchTemplateProps {
  readonly settings: FleetSettings;
  readonly machineImage?: ec2.IMachineImage;
  readonly role: iam.IRole;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly secretPrefix: string;
  /** The control plane's instance agent URL (a token): the instance's only way to Auto Scaling. */
  readonly agentUrl: string;
}

/**
 * The runners' launch template: the image for the instance type's architecture, IMDSv2 with a hop limit
 * of 1 (containers cannot reach the metadata service), an encrypted gp3 root volume, no inbound access,
 * and the bootstrap user data.
 */
export function createLaunchTemplate(scope: Construct, id: string, props: RunnerLaunchTemplateProps): ec2.LaunchTemplate {
  const { settings } = props;
  const architecture = settings.instanceType.architecture;
  const hibernated = settings.warmPool?.poolState === 'Hibernated';
  const userData = ec2.UserData.custom(renderUserData({
    os: settings.operatingSystem.name === 'ubuntu' ? 'ubuntu' : 'amazon-linux-2023',
    architecture: runnerArchitecture(settings.instanceType),
    runnerVersion: settings.runnerVersion,
    runnerSha256: settings.runnerSha256,
    runnerDownloadBaseUrl: settings.runnerDownloadBaseUrl,
    mode: settings.mode === 'persistent' ? 'persistent' : 'ephemeral',
    secretPrefix: props.secretPrefix,
    installDocker: settings.installDocker,
    extraPackages: settings.extraPackages,
    extraCommands: settings.extraCommands,
    blockJobMetadataAccess: settings.blockJobMetadataAccess,
    inServiceTimeoutSeconds: settings.launchTimeout.toSeconds(),
    agentUrl: props.agentUrl,
  }));

  return new ec2.LaunchTemplate(scope, id, {
    machineImage: props.machineImage ?? settings.operatingSystem._defaultImage(architecture),
    instanceType: settings.instanceType,
    role: props.role,
    securityGroup: props.securityGroup,
    userData,
    requireImdsv2: true,
    httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 1,
    httpEndpoint: true,
    hibernationConfigured: hibernated ? true : undefined,
    blockDevices: [{
      deviceName: settings.operatingSystem.rootDeviceName,
      volume: ec2.BlockDeviceVolume.ebs(settings.rootVolumeGiB, {
        encrypted: true,
        volumeType: ec2.EbsDeviceVolumeType.GP3,
        deleteOnTermination: true,
      }),
    }],
  });
}
