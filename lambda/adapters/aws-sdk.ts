/* eslint-disable @typescript-eslint/no-require-imports */
import type * as AutoScalingSdk from '@aws-sdk/client-auto-scaling';
import type * as DynamoDbSdk from '@aws-sdk/client-dynamodb';
import type * as SecretsManagerSdk from '@aws-sdk/client-secrets-manager';
import type * as SsmSdk from '@aws-sdk/client-ssm';

/**
 * The AWS SDK client packages, each required on its first use and not at module load: a function loads
 * only the clients it calls, when it first calls them, and its cold start loads none (requiring all
 * three took most of a cold start). Only type imports of them are allowed anywhere else in lambda/: a
 * value import would load the package with the module again.
 *
 * A package already loaded when this module is (a test that mocked its client class with
 * aws-sdk-client-mock first, in the same module registry) is taken as it is, at no cost: the adapters
 * then use that very module instance, whose client prototype the mock patched.
 */
export const autoScalingSdk: () => typeof AutoScalingSdk = sdkPackage(
  () => require.resolve('@aws-sdk/client-auto-scaling'),
  () => require('@aws-sdk/client-auto-scaling'),
);

export const secretsManagerSdk: () => typeof SecretsManagerSdk = sdkPackage(
  () => require.resolve('@aws-sdk/client-secrets-manager'),
  () => require('@aws-sdk/client-secrets-manager'),
);

export const dynamoDbSdk: () => typeof DynamoDbSdk = sdkPackage(
  () => require.resolve('@aws-sdk/client-dynamodb'),
  () => require('@aws-sdk/client-dynamodb'),
);

export const ssmSdk: () => typeof SsmSdk = sdkPackage(
  () => require.resolve('@aws-sdk/client-ssm'),
  () => require('@aws-sdk/client-ssm'),
);

/** A value made on first use and kept: `lazy(createXClient)` builds (and loads) the client on the first call. */
export function lazy<T>(make: () => T): () => T {
  let made: { readonly value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** A client given as it is, or as a function that builds it on first use (see {@link lazy}). */
export type ClientSource<C extends object> = C | (() => C);

/** The client of a {@link ClientSource}, as a function. */
export function clientOf<C extends object>(source: ClientSource<C>): () => C {
  return typeof source === 'function' ? source : () => source;
}

/** The package, as loaded already or required on the first call (the specifiers are literal, for esbuild). */
function sdkPackage<M>(resolve: () => string, load: () => M): () => M {
  let loaded = loadedAlready<M>(resolve);
  return () => (loaded ??= load());
}

function loadedAlready<M>(resolve: () => string): M | undefined {
  try {
    return require.cache[resolve()]?.exports as M | undefined;
  } catch {
    return undefined; // not installed here: the first use says so
  }
}
