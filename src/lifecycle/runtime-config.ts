import { gzipSync } from 'zlib';
import { Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { CompressedFleetRuntimeConfig, ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../contract';

/** Lambda's limit on the total size of a function's environment variables (names and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Above this size (in bytes) the fleets travel gzipped: the rest of the 4 KB stays for other variables. */
const COMPRESS_ABOVE_BYTES = 2048;

/** What an unresolved token (a secret ARN from the same stack, say) is assumed to resolve to, at most. */
const TOKEN_ESTIMATE_BYTES = 256;

/**
 * The value of {@link ENV_FLEET_CONFIG} for a control plane: plain JSON while small, the fleets gzipped
 * when many fleets would not fit plainly. Throws, naming the fix, when even that is too large.
 */
export function encodeRuntimeConfig(scope: IConstruct, config: FleetRuntimeConfig): string {
  const stack = Stack.of(scope);
  const plain = stack.toJsonString(config);
  if (estimatedBytes(scope, plain) <= COMPRESS_ABOVE_BYTES) {
    return plain;
  }
  const fleetsJson = JSON.stringify(config.fleets);
  let encoded = plain;
  if (!Token.isUnresolved(fleetsJson)) {
    // Everything but the fleets travels as it is (the webhook section among it): no field copied by hand.
    const { fleets: _fleets, ...rest } = config;
    const compressed: CompressedFleetRuntimeConfig = {
      ...rest,
      fleetsGzip: gzipSync(Buffer.from(fleetsJson, 'utf8'), { level: 9 }).toString('base64'),
    };
    encoded = stack.toJsonString(compressed);
  }
  const bytes = estimatedBytes(scope, encoded) + ENV_FLEET_CONFIG.length;
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    throw new Error(`the ${config.fleets.length} fleets of control plane ${scope.node.path} need about ${bytes} bytes of Lambda environment ` +
      `(the limit is ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}): split the fleets over two GitHubRunnerControlPlane constructs` +
      (Token.isUnresolved(fleetsJson) ? ', or use literal fleet names and labels (tokens prevent compression)' : ''));
  }
  return encoded;
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
