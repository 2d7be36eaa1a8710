import { gunzipSync } from 'zlib';
import type { RuntimeEnvironment } from '../ports';

/**
 * Partition, region and account of the running function, from the ARN it was invoked by
 * (`arn:<partition>:lambda:<region>:<account>:function:<name>[:<alias or version>]`).
 */
export function environmentFromContext(context: { readonly invokedFunctionArn: string }): RuntimeEnvironment {
  const match = /^arn:([a-z][a-z0-9-]*):lambda:([a-z0-9-]+):(\d{12}):function:[^:]+(:[^:]+)?$/.exec(context.invokedFunctionArn ?? '');
  if (!match) {
    throw new Error(`cannot read partition, region and account from the function ARN ${JSON.stringify(context.invokedFunctionArn)}`);
  }
  return { partition: match[1], region: match[2], accountId: match[3] };
}

/**
 * The runtime configuration as plain JSON: when the constructs sent the fleets gzipped (many fleets,
 * see `CompressedFleetRuntimeConfig`), they are unpacked here, and the values only known at deploy time
 * (`fleetValues`) merged back into their fleets. Anything else is returned as it is, for
 * `parseFleetConfig` to judge.
 */
export function unpackFleetConfig(raw: string | undefined): string | undefined {
  if (raw === undefined || !raw.includes('"fleetsGzip"')) {
    return raw;
  }
  let data: { fleetsGzip?: unknown; [key: string]: unknown };
  try {
    data = JSON.parse(raw);
  } catch {
    return raw;
  }
  if (typeof data.fleetsGzip !== 'string') {
    return raw;
  }
  const { fleetsGzip, fleetValues, ...rest } = data;
  let fleets: unknown;
  try {
    fleets = JSON.parse(gunzipSync(Buffer.from(fleetsGzip, 'base64')).toString('utf8'));
  } catch (error) {
    throw new Error(`RUNNER_FLEET_CONFIG: fleetsGzip is not gzipped JSON (${(error as Error).message})`);
  }
  if (Array.isArray(fleets) && Array.isArray(fleetValues)) {
    fleets = fleets.map((fleet, i) => (isObject(fleet) && isObject(fleetValues[i]) ? { ...fleet, ...fleetValues[i] } : fleet));
  }
  return JSON.stringify({ ...rest, fleets });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
