import type { RuntimeEnvironment } from '../ports';

/** Partition, region and account of the running function, from its ARN. */
export function environmentFromContext(context: { readonly invokedFunctionArn: string }): RuntimeEnvironment {
  const [, partition, , region, accountId] = context.invokedFunctionArn.split(':');
  if (!partition || !region || !/^\d{12}$/.test(accountId ?? '')) {
    throw new Error(`cannot read partition, region and account from ${context.invokedFunctionArn}`);
  }
  return { partition, region, accountId };
}
