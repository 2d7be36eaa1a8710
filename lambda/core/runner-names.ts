const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Whether a string is an EC2 instance id. */
export function isInstanceId(value: string | undefined): value is string {
  return value !== undefined && INSTANCE_ID.test(value);
}

/** The instance id in a runner name `<fleet name>-<instance id>`, or undefined. */
export function instanceIdFromRunnerName(fleetName: string, runnerName: string): string | undefined {
  const prefix = `${fleetName}-`;
  if (!runnerName.startsWith(prefix)) {
    return undefined;
  }
  const id = runnerName.slice(prefix.length);
  return isInstanceId(id) ? id : undefined;
}

/** The instance id at the end of a per-instance secret name `<prefix><instance id>`, or undefined. */
export function instanceIdFromSecretName(prefix: string, secretName: string): string | undefined {
  if (!secretName.startsWith(prefix)) {
    return undefined;
  }
  const id = secretName.slice(prefix.length);
  return isInstanceId(id) ? id : undefined;
}
