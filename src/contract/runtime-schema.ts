/**
 * The one description of the runtime configuration ({@link FleetRuntimeConfig}): every field of every
 * shape, its kind, whether it may be absent, its default, its bounds and the rules between fields.
 *
 * The constructs encode with it (src/lifecycle/runtime-config.ts: only described fields are written, in
 * this order, defaults left out, deploy-time fields counted at their longest), the functions decode and
 * validate with it (lambda/core/config.ts: only described fields are read, defaults applied). The
 * schema's type is derived from the interfaces in `./index`: a field added to an interface and not
 * described here does not compile, so neither direction can forget one.
 *
 * This module must not import aws-cdk-lib or constructs: lambda/ bundles it.
 */
import type { FleetRuntimeConfig, FleetRuntimeEntry, GitHubRuntimeConfig, WebhookRuntimeConfig } from './index';

/** A text field (an enum-like field when `oneOf` is given). */
export interface StringFieldSpec {
  readonly kind: 'string';
  /** The empty string is allowed (it never is for a required identifier). @default false */
  readonly allowEmpty?: boolean;
  /** The only values allowed, as they travel. */
  readonly oneOf?: readonly string[];
  /**
   * When the value is only known at deploy time (a generated name), its longest length in bytes, where
   * AWS bounds it: the construct counts it at that length against Lambda's 4 KB of environment (other
   * deploy-time parts at a generous estimate).
   */
  readonly deployTimeMaxBytes?: number;
  /** A further check of a well-typed value: the problem's text (without the path), or undefined. */
  readonly check?: (value: string) => string | undefined;
  /** Applied by the decoder to a valid value (e.g. a trailing slash removed). */
  readonly normalize?: (value: string) => string;
}

/** A whole number. */
export interface IntegerFieldSpec {
  readonly kind: 'integer';
  readonly min: number;
}

/** `true` or `false`. */
export interface BooleanFieldSpec {
  readonly kind: 'boolean';
}

/** A constant (the configuration's version). */
export interface LiteralFieldSpec {
  readonly kind: 'literal';
  readonly value: number;
}

/** A non-empty list of non-empty strings. */
export interface StringListFieldSpec {
  readonly kind: 'strings';
}

/** A nested shape. */
export interface ObjectFieldSpec<T> {
  readonly kind: 'object';
  readonly shape: ShapeSchema<T>;
}

/** A non-empty list of a nested shape. */
export interface ObjectListFieldSpec<T> {
  readonly kind: 'objects';
  readonly shape: ShapeSchema<T>;
  /** The list may be empty when this other field of the parent shape is a string. */
  readonly emptyWhen?: string;
}

/** How a field's presence is ruled: absent fields take the default, if any. */
interface Presence<V> {
  /** The field may be absent (and is left out by the encoder when it has the default value). */
  readonly optional?: boolean;
  /** What an absent optional field decodes to. */
  readonly default?: V;
  /** The field may be absent only when this other field of the shape is a string. */
  readonly requiredUnless?: string;
}

/** The spec a field of type `V` may have (its kind follows from its type). */
export type FieldSpecFor<V> =
  [V] extends [readonly string[]] ? StringListFieldSpec :
    [V] extends [string] ? StringFieldSpec :
      [V] extends [number] ? IntegerFieldSpec | LiteralFieldSpec :
        [V] extends [boolean] ? BooleanFieldSpec :
          [V] extends [ReadonlyArray<infer E>] ? ObjectListFieldSpec<E> :
            [V] extends [object] ? ObjectFieldSpec<V> : never;

/** An optional field of the interface must be marked optional in its spec, and only such a field. */
type PresenceFor<T, K extends keyof T> = undefined extends T[K]
  ? Presence<NonNullable<T[K]>> & { readonly optional: true }
  : { readonly optional?: false; readonly default?: undefined; readonly requiredUnless?: undefined };

/** Every field of `T`, described. */
export type ShapeFields<T> = { readonly [K in keyof T]-?: FieldSpecFor<NonNullable<T[K]>> & PresenceFor<T, K> };

/** A shape: its fields, and the rules between them. */
export interface ShapeSchema<T> {
  readonly fields: ShapeFields<T>;
  /** Problems between fields of one (otherwise well-typed) value; texts start with the field's name. */
  readonly rules?: ReadonlyArray<(value: T) => ReadonlyArray<{ field: string; problem: string }>>;
  /** Problems between the items of a list of this shape; `index` is the item's. */
  readonly listRules?: ReadonlyArray<(values: readonly T[]) => ReadonlyArray<{ index: number; field: string; problem: string }>>;
}

function isAllowedApiUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol === 'https:') {
      return true;
    }
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

export const GITHUB_SCHEMA: ShapeSchema<GitHubRuntimeConfig> = {
  fields: {
    scope: { kind: 'string', oneOf: ['organization', 'repository', 'enterprise'] },
    owner: { kind: 'string' },
    repo: { kind: 'string', optional: true },
    apiUrl: {
      kind: 'string',
      check: (v) => (isAllowedApiUrl(v) ? undefined : `expected an https URL (http only on loopback), got ${JSON.stringify(v)}`),
      normalize: (v) => v.replace(/\/+$/, ''),
    },
    secretArn: { kind: 'string' },
    auth: { kind: 'string', oneOf: ['app', 'token'] },
  },
  rules: [
    (g) => (g.scope === 'repository' && (typeof g.repo !== 'string' || g.repo === '')
      ? [{ field: 'repo', problem: `required for repository scope, got ${JSON.stringify(g.repo)}` }] : []),
    (g) => (g.scope !== 'repository' && g.repo !== undefined
      ? [{ field: 'repo', problem: `not allowed for ${String(g.scope)} scope, got ${JSON.stringify(g.repo)}` }] : []),
  ],
};

export const FLEET_ENTRY_SCHEMA: ShapeSchema<FleetRuntimeEntry> = {
  fields: {
    name: { kind: 'string' },
    // Deploy-time only for a fleet whose name is a token (the group is then named by CloudFormation).
    autoScalingGroupName: { kind: 'string', deployTimeMaxBytes: 255 },
    // IAM generates the instance role's name at deployment: at most 64 characters.
    instanceRoleName: { kind: 'string', deployTimeMaxBytes: 64 },
    fleetLabel: { kind: 'string' },
    labels: { kind: 'strings' },
    mode: { kind: 'string', oneOf: ['ephemeral', 'persistent'] },
    runnerGroupId: { kind: 'integer', min: 1, optional: true, requiredUnless: 'runnerGroupName' },
    runnerGroupName: { kind: 'string', optional: true, allowEmpty: true },
    secretPrefix: { kind: 'string', check: (v) => (v.endsWith('/') ? undefined : `must end with "/", got ${JSON.stringify(v)}`) },
    offlineGraceSeconds: { kind: 'integer', min: 0 },
    drainTimeoutSeconds: { kind: 'integer', min: 0 },
    idleTarget: { kind: 'integer', min: 0, optional: true, default: 0 },
    os: { kind: 'string', optional: true, default: 'linux' },
    architecture: { kind: 'string', optional: true, default: 'x64' },
    directScaleOut: { kind: 'boolean', optional: true, default: false },
    // Absent: the contract's fixed names (LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME), which the functions fall back to.
    launchHookName: { kind: 'string', optional: true, check: hookNameProblem },
    terminateHookName: { kind: 'string', optional: true, check: hookNameProblem },
  },
  rules: [
    (f) => (f.fleetLabel && f.labels.length > 0 && !f.labels.some((l) => l.toLowerCase() === f.fleetLabel.toLowerCase())
      ? [{ field: 'fleetLabel', problem: `${JSON.stringify(f.fleetLabel)} must be one of the labels` }] : []),
  ],
  listRules: [
    (fleets) => fleets.flatMap((f, index) => (fleets.findIndex((g) => g.name === f.name) < index
      ? [{ index, field: 'name', problem: `${JSON.stringify(f.name)} appears twice` }] : [])),
  ],
};

export const WEBHOOK_SCHEMA: ShapeSchema<WebhookRuntimeConfig> = {
  fields: {
    tableName: { kind: 'string' },
    secretArn: { kind: 'string' },
    maxBodyBytes: { kind: 'integer', min: 1 },
  },
};

/** The whole configuration, as {@link ENV_FLEET_CONFIG} carries it (plainly; see {@link COMPRESSED_FLEETS}). */
export const RUNTIME_CONFIG_SCHEMA: ShapeSchema<FleetRuntimeConfig> = {
  fields: {
    version: { kind: 'literal', value: 1 },
    github: { kind: 'object', shape: GITHUB_SCHEMA },
    fleets: { kind: 'objects', shape: FLEET_ENTRY_SCHEMA, emptyWhen: 'fleetDirectory' },
    webhook: { kind: 'object', shape: WEBHOOK_SCHEMA, optional: true },
    fleetDirectory: {
      kind: 'string',
      optional: true,
      check: (v) => (/^\/[A-Za-z0-9_.\-/]+\/$/.test(v) ? undefined : `expected an SSM parameter path starting and ending with "/", got ${JSON.stringify(v)}`),
    },
  },
};

/** A lifecycle hook's name as Auto Scaling allows it. */
function hookNameProblem(value: string): string | undefined {
  return /^[A-Za-z0-9\-_/]{1,255}$/.test(value) ? undefined : `expected a lifecycle hook name (letters, digits, - _ /), got ${JSON.stringify(value)}`;
}

/**
 * The compressed form ({@link CompressedFleetRuntimeConfig}): the one field that travels otherwise than
 * described above is `fleets`, replaced by these two; every other field of the configuration travels as
 * it is.
 */
export const COMPRESSED_FLEETS = {
  /** The field compressed. */
  field: 'fleets',
  /** base64 of the gzipped JSON array of the fleets' synthesis-time fields. */
  gzip: 'fleetsGzip',
  /** Per fleet, in the same order, its deploy-time fields. */
  values: 'fleetValues',
} as const;

/** What an optional field of a shape decodes to when it is absent (undefined: no default). */
export function defaultOf<T>(shape: ShapeSchema<T>, field: keyof T): unknown {
  return (shape.fields[field] as Presence<unknown>).default;
}
