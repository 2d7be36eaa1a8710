import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * The operating system of the runner instances. The default image of each is resolved at deploy time
 * from AWS's public SSM parameters, so a redeploy picks up the latest patched image.
 */
export class RunnerOperatingSystem {
  /** Amazon Linux 2023 (x86_64 or arm64), from `/aws/service/ami-amazon-linux-latest/`. */
  public static readonly AMAZON_LINUX_2023 = new RunnerOperatingSystem('amazon-linux-2023', '/dev/xvda');

  /** Ubuntu Server 24.04 LTS (amd64 or arm64), from `/aws/service/canonical/ubuntu/server/24.04/`. */
  public static readonly UBUNTU_24_04 = new RunnerOperatingSystem('ubuntu', '/dev/sda1');

  private constructor(
    /** The name the bootstrap script uses to pick its package manager. */
    public readonly name: string,
    /** The root device name of the default images. */
    public readonly rootDeviceName: string,
  ) {}

  /**
   * The default image for an architecture, resolved at deploy time.
   *
   * @internal
   */
  public _defaultImage(architecture: ec2.InstanceArchitecture): ec2.IMachineImage {
    const arm = architecture === ec2.InstanceArchitecture.ARM_64;
    if (this.name === 'ubuntu') {
      return ec2.MachineImage.fromSsmParameter(
        `/aws/service/canonical/ubuntu/server/24.04/stable/current/${arm ? 'arm64' : 'amd64'}/hvm/ebs-gp3/ami-id`,
        { os: ec2.OperatingSystemType.LINUX },
      );
    }
    return ec2.MachineImage.latestAmazonLinux2023({
      cpuType: arm ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
    });
  }
}
