import * as fs from 'fs';
import * as path from 'path';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createAutoScalingClient, createAutoScalingPort } from './auto-scaling';
import { lazy } from './aws-sdk';
import { InvocationContext, loadConfig, servedConfig, UNKNOWN_FLEET_MAX_AGE_MS } from './entry-common';
import { AgentFunctionUrlEvent, toAgentRequest, toAgentResponse } from './http';
import { createLogger } from './powertools';
import { environmentFromContext } from './runtime';
import type { FleetRuntimeConfig } from '../../src/contract';
import { AGENT_PROGRAMS_DIR, servedPrograms } from '../../src/contract/instance-programs';
import type { ServedPrograms } from '../../src/contract/instance-programs';
import { createInstanceAgentHandler } from '../handlers/instance-agent';
import type { FleetDirectoryPort } from '../ports';

/**
 * The instance agent's Lambda handler (a Function URL with AWS_IAM auth, payload 2.0): the configuration
 * at cold start; the handler on the first invocation, when the function's ARN (and so its account and
 * partition, which callers must match) is known. Only the Auto Scaling client, loaded and built on its
 * first call. No GitHub client, no secret, no job table. The programs it serves are read from
 * `programsDir` on the first programs request, then kept.
 */
export function instanceAgentLambdaHandler(
  options: {
    readonly env?: Record<string, string | undefined>;
    readonly directory?: FleetDirectoryPort;
    /** @default the `programs` folder beside the bundle */
    readonly programsDir?: string;
  } = {},
): (event: AgentFunctionUrlEvent, context: InvocationContext) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = createLogger();
  const programsDir = options.programsDir ?? path.join(__dirname, AGENT_PROGRAMS_DIR);
  let programs: ServedPrograms | undefined;
  const readPrograms = (): ServedPrograms => (programs ??= servedPrograms((asset) => fs.readFileSync(path.join(programsDir, asset), 'utf8')));
  const config = loadConfig(options.env ?? process.env, logger);
  const autoScaling = createAutoScalingPort(lazy(createAutoScalingClient));
  const served = servedConfig(config, logger, options.directory);
  let handle: ReturnType<typeof createInstanceAgentHandler> | undefined;
  let builtFor: FleetRuntimeConfig | undefined;
  return async (event, context) => {
    if (context.awsRequestId && context.functionName) {
      logger.powertools.addContext(context as Context);
    }
    const request = toAgentRequest(event);
    // A caller whose role no fleet served has may be an instance of a fleet deployed a moment ago: the
    // fleet directory is read again then, rather than at the minute.
    let current = await served.current();
    if (!knowsRoleOf(request.caller?.userArn, current)) {
      current = await served.current(UNKNOWN_FLEET_MAX_AGE_MS);
    }
    if (!handle || current !== builtFor) {
      handle = createInstanceAgentHandler({
        config: current, autoScaling, logger, environment: environmentFromContext(context), programs: readPrograms,
      });
      builtFor = current;
    }
    return toAgentResponse(await handle(request));
  };
}

/** Whether the caller's role session (`arn:...:assumed-role/<role>/<session>`) is of a fleet's instance role. */
function knowsRoleOf(userArn: string | null | undefined, config: FleetRuntimeConfig): boolean {
  const role = /:assumed-role\/([^/]+)\//.exec(userArn ?? '')?.[1];
  return role === undefined || config.fleets.some((f) => f.instanceRoleName === role);
}
