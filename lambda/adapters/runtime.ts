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
