import { gunzipSync } from 'zlib';
import { COMPRESSED_FLEETS } from '../../src/contract/runtime-schema';
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
  if (raw === undefined || !raw.includes(`"${COMPRESSED_FLEETS.gzip}"`)) {
    return raw;
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(raw);
  } catch {
    return raw;
  }
  const { [COMPRESSED_FLEETS.gzip]: fleetsGzip, [COMPRESSED_FLEETS.values]: fleetValues, ...rest } = data;
  if (typeof fleetsGzip !== 'string') {
    return raw;
  }
  let fleets: unknown;
  try {
    fleets = JSON.parse(gunzipSync(Buffer.from(fleetsGzip, 'base64')).toString('utf8'));
  } catch (error) {
    throw new Error(`RUNNER_FLEET_CONFIG: ${COMPRESSED_FLEETS.gzip} is not gzipped JSON (${(error as Error).message})`);
  }
  if (Array.isArray(fleets) && Array.isArray(fleetValues)) {
    fleets = fleets.map((fleet, i) => (isObject(fleet) && isObject(fleetValues[i]) ? { ...fleet, ...fleetValues[i] } : fleet));
  }
  // Every other field came as it is: only the fleets travel otherwise.
  return JSON.stringify({ ...rest, [COMPRESSED_FLEETS.field]: fleets });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
