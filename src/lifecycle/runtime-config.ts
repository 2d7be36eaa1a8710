import { gzipSync } from 'zlib';
import { Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, FleetRuntimeEntry, GitHubRuntimeConfig } from '../contract';
import { COMPRESSED_FLEETS, FLEET_ENTRY_SCHEMA, RUNTIME_CONFIG_SCHEMA, ShapeSchema } from '../contract/runtime-schema';
import { GitHubConnection, GitHubScope } from '../github/connection';
import { GitHubAuthType } from '../github/credentials';

/** Lambda's limit on the total size of a function's environment variables (names and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Above this size (in bytes) the fleets travel gzipped: the rest of the 4 KB stays for other variables. */
export const COMPRESS_ABOVE_BYTES = 2048;

/** What an unresolved token (a secret ARN from the same stack, say) is assumed to resolve to, at most. */
const TOKEN_ESTIMATE_BYTES = 256;

/** The connection as the functions receive it. */
export function githubRuntimeConfig(github: GitHubConnection): GitHubRuntimeConfig {
  return {
    scope: github.scope === GitHubScope.ENTERPRISE ? 'enterprise' : github.scope === GitHubScope.REPOSITORY ? 'repository' : 'organization',
    owner: github.owner,
    repo: github.repositoryName,
    apiUrl: github.apiUrl,
    secretArn: github.credentials.secret.secretArn,
    auth: github.credentials.authType === GitHubAuthType.APP ? 'app' : 'token',
  };
}

/**
 * The value of {@link ENV_FLEET_CONFIG} for a control plane: plain JSON while small, the fleets gzipped
 * when many fleets would not fit plainly, with their deploy-time values (each instance role's generated
 * name) beside them in `fleetValues`. Throws, naming the fix, when even that is too large.
 *
 * Both forms are written from {@link toWire}'s output: exactly the fields the schema describes
 * (src/contract/runtime-schema.ts), the functions' decoder reads the same; a field the schema does not
 * describe fails synthesis.
 */
export function encodeRuntimeConfig(scope: IConstruct, config: FleetRuntimeConfig): string {
  const stack = Stack.of(scope);
  const wire = toWire(RUNTIME_CONFIG_SCHEMA, config, '');
  const fleets = wire[COMPRESSED_FLEETS.field] as Array<Record<string, unknown>>;
  const plain = stack.toJsonString(wire);
  if (estimatedBytes(scope, stack.toJsonString({ ...wire, [COMPRESSED_FLEETS.field]: fleets.map(atLongest) })) <= COMPRESS_ABOVE_BYTES) {
    return plain;
  }
  // Each fleet's deploy-time values (its instance role's generated name) travel beside the gzipped fleets.
  const split = fleets.map(splitDeployTimeValues);
  const literalJson = JSON.stringify(split.map((s) => s.literal));
  let encoded = plain;
  let estimate = plain;
  if (!Token.isUnresolved(literalJson)) {
    // Every other field travels as it is (the webhook section among them).
    const { [COMPRESSED_FLEETS.field]: _fleets, ...rest } = wire;
    const fleetValues = split.map((s) => s.deployTime);
    const compressed: Record<string, unknown> = {
      ...rest,
      [COMPRESSED_FLEETS.gzip]: gzipSync(Buffer.from(literalJson, 'utf8'), { level: 9 }).toString('base64'),
      ...(fleetValues.some((v) => Object.keys(v).length > 0) ? { [COMPRESSED_FLEETS.values]: fleetValues } : {}),
    };
    encoded = stack.toJsonString(compressed);
    estimate = stack.toJsonString({ ...compressed, [COMPRESSED_FLEETS.values]: fleetValues.map(atLongest) });
  }
  const bytes = estimatedBytes(scope, estimate) + ENV_FLEET_CONFIG.length;
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    throw new Error(`the ${config.fleets.length} fleets of control plane ${scope.node.path} need about ${bytes} bytes of Lambda environment ` +
      `(the limit is ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}): move some fleets into another stack, passing them this control plane as controlPlane `
      + '(they join through its fleet directory instead of its environment)' +
      (Token.isUnresolved(literalJson) ? ', or use literal fleet names and labels (tokens prevent compression)' : ''));
  }
  return encoded;
}

/** SSM's limit on a Standard parameter's value. */
export const PARAMETER_VALUE_LIMIT_BYTES = 4096;

/**
 * The value of a fleet's parameter in its control plane's fleet directory: the fleet's entry as JSON, in
 * the wire form the functions decode (src/contract/runtime-schema.ts). Its deploy-time values (the
 * instance role's generated name) resolve in the fleet's own stack. Throws when it would not fit a
 * Standard parameter.
 */
export function fleetDirectoryValue(scope: IConstruct, entry: FleetRuntimeEntry): string {
  const wire = toWire(FLEET_ENTRY_SCHEMA, entry, '');
  const value = Stack.of(scope).toJsonString(wire);
  const bytes = estimatedBytes(scope, Stack.of(scope).toJsonString(atLongest(wire)));
  if (bytes > PARAMETER_VALUE_LIMIT_BYTES) {
    throw new Error(`fleet ${entry.name} (${scope.node.path}) needs about ${bytes} bytes in its control plane's fleet directory `
      + `(an SSM parameter holds ${PARAMETER_VALUE_LIMIT_BYTES}): use fewer or shorter labels`);
  }
  return value;
}

/**
 * A value of a shape as it travels: only the described fields, in the schema's order; absent fields and
 * optional fields at their default left out (the decoder restores them). Throws on a field the schema
 * does not describe: it would be written and never read.
 */
export function toWire<T>(shape: ShapeSchema<T>, value: T, path: string): Record<string, unknown> {
  const fields = shape.fields as unknown as Record<string, WireSpec>;
  const data = value as unknown as Record<string, unknown>;
  const unknown = Object.keys(data).filter((key) => !(key in fields) && data[key] !== undefined);
  if (unknown.length > 0) {
    throw new Error(`runtime configuration: ${unknown.map((k) => (path ? `${path}.${k}` : k)).join(', ')} not described in src/contract/runtime-schema.ts: `
      + 'describe the field there, so that the functions read what the construct writes');
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(fields)) {
    const v = data[key];
    const at = path ? `${path}.${key}` : key;
    if (v === undefined || (spec.optional && spec.default !== undefined && v === spec.default)) {
      continue;
    }
    if (spec.kind === 'object') {
      out[key] = toWire(spec.shape!, v, at);
    } else if (spec.kind === 'objects') {
      out[key] = (v as unknown[]).map((item, i) => toWire(spec.shape!, item, `${at}[${i}]`));
    } else {
      out[key] = v;
    }
  }
  return out;
}

interface WireSpec {
  readonly kind: string;
  readonly optional?: boolean;
  readonly default?: unknown;
  readonly deployTimeMaxBytes?: number;
  readonly shape?: ShapeSchema<unknown>;
}

/**
 * A fleet's fields split in two: those known at synthesis (compressible) and those that are strings
 * only known at deploy time (the instance role's generated name; a group name without a literal one).
 */
function splitDeployTimeValues(fleet: Record<string, unknown>): { literal: Record<string, unknown>; deployTime: Record<string, string> } {
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

/** A copy of a fleet in which each deploy-time string field the schema bounds stands at its longest, for estimates. */
function atLongest<T extends object>(values: T): T {
  const fields = FLEET_ENTRY_SCHEMA.fields as unknown as Record<string, WireSpec | undefined>;
  return Object.fromEntries(Object.entries(values).map(([key, value]) => {
    const max = fields[key]?.deployTimeMaxBytes;
    return [key, typeof value === 'string' && Token.isUnresolved(value) && max !== undefined ? 'x'.repeat(max) : value];
  })) as T;
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
