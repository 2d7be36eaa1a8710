import { CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** CloudFormation's limit on the resources of one stack. */
export const STACK_RESOURCE_LIMIT = 500;

/** CloudFormation's limit on a template's size, in bytes (a template uploaded through S3, as the CDK does). */
export const TEMPLATE_SIZE_LIMIT_BYTES = 1_000_000;

/** Below this many fleets in a stack, its template is not measured: it is far from the size limit. */
const MEASURE_FROM_FLEETS = 10;

/** Where the fix for a full stack is explained. */
const MANY_FLEETS_DOCS = 'https://cdk-github-runner-fleet.github.io/cdk-github-runner-fleet/guide/control-plane.html#many-fleets';

const FLEETS_OF_STACK = Symbol.for('cdk-github-runner-fleet.stackFleets');

/**
 * Watches the stack of `fleet` for CloudFormation's per-stack limits (500 resources, a 1 MB template):
 * once per stack, a validation counts the stack's resources and, with many fleets, measures its
 * template, and reports a stack over a limit at synth, with the figures of its fleets and the fix.
 * CloudFormation would refuse such a stack at deployment, after the work of synthesizing and uploading it.
 */
export function watchStackLimits(fleet: IConstruct): void {
  const stack = Stack.of(fleet);
  const holder = stack as unknown as { [FLEETS_OF_STACK]?: IConstruct[] };
  if (holder[FLEETS_OF_STACK]) {
    holder[FLEETS_OF_STACK].push(fleet);
    return;
  }
  const fleets = [fleet];
  Object.defineProperty(holder, FLEETS_OF_STACK, { value: fleets, enumerable: false });
  stack.node.addValidation({ validate: () => stackLimitProblems(stack, fleets) });
}

/**
 * What is wrong with the stack's size, given its fleets; empty when it is within CloudFormation's limits.
 * (`templateLimitBytes` only changes for tests.)
 */
export function stackLimitProblems(stack: Stack, fleets: IConstruct[], templateLimitBytes = TEMPLATE_SIZE_LIMIT_BYTES): string[] {
  const resources = resourcesOf(stack, stack);
  const perFleet = Math.max(1, Math.round(fleets.reduce((sum, f) => sum + resourcesOf(f, stack), 0) / fleets.length));
  const limit = resourceLimitOf(stack);
  if (resources > limit) {
    const over = Math.ceil((resources - limit) / perFleet);
    return [`stack ${stack.stackName} would have ${resources} resources, above CloudFormation's limit of ${limit} per stack: `
      + `it holds ${fleets.length} fleets of about ${perFleet} resources each. Move ${over} or more fleets into another stack `
      + `(they can share this stack's control plane: pass it to them as controlPlane; see ${MANY_FLEETS_DOCS})`];
  }
  if (fleets.length < MEASURE_FROM_FLEETS) {
    return [];
  }
  const bytes = templateBytes(stack);
  if (bytes === undefined || bytes <= templateLimitBytes) {
    return [];
  }
  const fleetBytes = Math.round(bytes / Math.max(1, fleets.length));
  const over = Math.ceil((bytes - templateLimitBytes) / fleetBytes);
  return [`the template of stack ${stack.stackName} would be about ${bytes} bytes, above CloudFormation's limit of ${templateLimitBytes}: `
    + `it holds ${fleets.length} fleets of about ${fleetBytes} bytes each. Move ${over} or more fleets into another stack `
    + `(they can share this stack's control plane: pass it to them as controlPlane; see ${MANY_FLEETS_DOCS})`];
}

/** The resources below `scope` that belong to `stack` itself (not to a nested stack). */
function resourcesOf(scope: IConstruct, stack: Stack): number {
  // The CDK's own AWS::CDK::Metadata resource, when reported, is in the tree by the time validation runs.
  return scope.node.findAll().filter((c) => CfnResource.isCfnResource(c) && Stack.of(c) === stack).length;
}

function resourceLimitOf(stack: Stack): number {
  const fromContext = stack.node.tryGetContext('@aws-cdk/core:stackResourceLimit');
  const limit = fromContext === undefined ? STACK_RESOURCE_LIMIT : parseInt(String(fromContext), 10);
  return Number.isFinite(limit) && limit > 0 ? limit : STACK_RESOURCE_LIMIT;
}

/**
 * The size of the template as the CDK writes it (indented by one space unless indentation is suppressed),
 * or undefined when it cannot be rendered yet (synthesis then reports why).
 */
function templateBytes(stack: Stack): number | undefined {
  const render = (stack as unknown as { _toCloudFormation?: () => unknown })._toCloudFormation;
  if (typeof render !== 'function') {
    return undefined;
  }
  try {
    const template = render.call(stack);
    const suppressed = (stack as unknown as { _suppressTemplateIndentation?: boolean })._suppressTemplateIndentation
      ?? stack.node.tryGetContext('@aws-cdk/core:suppressTemplateIndentation') === true;
    const indent = suppressed ? undefined : 1;
    return Buffer.byteLength(JSON.stringify(template, undefined, indent), 'utf8');
  } catch {
    return undefined;
  }
}
