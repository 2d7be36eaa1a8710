import { gzipSync } from 'zlib';
import { Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { CompressedFleetRuntimeConfig, ENV_FLEET_CONFIG, FleetRuntimeConfig, FleetRuntimeEntry } from '../contract';

/** Lambda's limit on the total size of a function's environment variables (names and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Above this size (in bytes) the fleets travel gzipped: the rest of the 4 KB stays for other variables. */
const COMPRESS_ABOVE_BYTES = 2048;

/** What an unresolved token (a secret ARN from the same stack, say) is assumed to resolve to, at most. */
const TOKEN_ESTIMATE_BYTES = 256;

/**
 * The longest value a fleet field known only at deploy time can take, where AWS bounds it more tightly
 * than {@link TOKEN_ESTIMATE_BYTES}: an IAM role name has at most 64 characters.
 */
const DEPLOY_TIME_FIELD_BYTES: Readonly<Record<string, number>> = { instanceRoleName: 64 };

/**
 * The value of {@link ENV_FLEET_CONFIG} for a control plane: plain JSON while small, the fleets gzipped
 * when many fleets would not fit plainly, with their deploy-time values (each instance role's generated
 * name) beside them in `fleetValues`. Throws, naming the fix, when even that is too large.
 */
export function encodeRuntimeConfig(scope: IConstruct, config: FleetRuntimeConfig): string {
  const stack = Stack.of(scope);
  const plain = stack.toJsonString(config);
  if (estimatedBytes(scope, stack.toJsonString({ ...config, fleets: config.fleets.map(atLongest) })) <= COMPRESS_ABOVE_BYTES) {
    return plain;
  }
  // Each fleet's deploy-time values (its instance role's generated name) travel beside the gzipped fleets.
  const split = config.fleets.map(splitDeployTimeValues);
  const literalJson = JSON.stringify(split.map((s) => s.literal));
  let encoded = plain;
  let estimate = plain;
  if (!Token.isUnresolved(literalJson)) {
    // Everything but the fleets travels as it is (the webhook section among it): no field copied by hand.
    const { fleets: _fleets, ...rest } = config;
    const fleetValues = split.map((s) => s.deployTime);
    const compressed: CompressedFleetRuntimeConfig = {
      ...rest,
      fleetsGzip: gzipSync(Buffer.from(literalJson, 'utf8'), { level: 9 }).toString('base64'),
      ...(fleetValues.some((v) => Object.keys(v).length > 0) ? { fleetValues } : {}),
    };
    encoded = stack.toJsonString(compressed);
    estimate = stack.toJsonString({ ...compressed, fleetValues: compressed.fleetValues?.map(atLongest) });
  }
  const bytes = estimatedBytes(scope, estimate) + ENV_FLEET_CONFIG.length;
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    throw new Error(`the ${config.fleets.length} fleets of control plane ${scope.node.path} need about ${bytes} bytes of Lambda environment ` +
      `(the limit is ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}): split the fleets over two GitHubRunnerControlPlane constructs` +
      (Token.isUnresolved(literalJson) ? ', or use literal fleet names and labels (tokens prevent compression)' : ''));
  }
  return encoded;
}

/**
 * A fleet's fields split in two: those known at synthesis (compressible) and those that are strings
 * only known at deploy time (the instance role's generated name; a group name without a literal one).
 */
function splitDeployTimeValues(fleet: FleetRuntimeEntry): { literal: Record<string, unknown>; deployTime: Record<string, string> } {
  const literal: Record<string, unknown> = {};
  const deployTime: Record<string, string> = {};
  for (const [key, value] of Object.entries(fleet)) {
    if (typeof value === 'string' && Token.isUnresolved(value)) {
      deployTime[key] = value;
    } else {
      literal[key] = value;
    }
  }
  return { literal, deployTime };
}

/** A copy of `values` in which each deploy-time string field stands at its longest known length, for estimates. */
function atLongest<T extends object>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key,
    typeof value === 'string' && Token.isUnresolved(value) && DEPLOY_TIME_FIELD_BYTES[key] !== undefined
      ? 'x'.repeat(DEPLOY_TIME_FIELD_BYTES[key]) : value])) as T;
}

/** The size `value` will have once deployed, counting each part only known at deploy time at its assumed maximum. */
function estimatedBytes(scope: IConstruct, value: string): number {
  return resolvedBytes(Stack.of(scope).resolve(value));
}

function resolvedBytes(resolved: unknown): number {
  if (typeof resolved === 'string') {
    return Buffer.byteLength(resolved, 'utf8');
  }
  const join = (resolved as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  if (join && Array.isArray(join[1])) {
    return join[1].reduce<number>((sum, part) => sum + resolvedBytes(part), 0) + join[0].length * Math.max(0, join[1].length - 1);
  }
  return TOKEN_ESTIMATE_BYTES;
}
