import type { FleetRuntimeConfig } from '../../src/contract';
import { FLEET_ENTRY_SCHEMA, RUNTIME_CONFIG_SCHEMA, ShapeSchema } from '../../src/contract/runtime-schema';

/** The runtime configuration is unusable; `problems` lists every field that is wrong. */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid ${'RUNNER_FLEET_CONFIG'}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

/**
 * Parses and validates the JSON the constructs put in `RUNNER_FLEET_CONFIG`. Called once at cold start:
 * a function with a bad configuration fails loudly at once instead of half-working.
 *
 * Every field is read as the one schema describes it (src/contract/runtime-schema.ts), which the
 * constructs encode with: absent optional fields take their defaults, and fields the schema does not
 * describe are not read (they cannot reach a handler).
 */
export function parseFleetConfig(raw: string | undefined): FleetRuntimeConfig {
  if (raw === undefined || raw.trim() === '') {
    throw new ConfigError(['the variable is missing or empty']);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError([`not JSON (${(e as Error).message})`]);
  }
  if (!isObject(data)) {
    throw new ConfigError(['expected a JSON object']);
  }
  const problems: string[] = [];
  const config = decodeShape(RUNTIME_CONFIG_SCHEMA, data, '', problems);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config;
}

/**
 * The configuration with the fleets of other stacks added: `entries` are the SSM parameters of its
 * `fleetDirectory` (name and value). Each is decoded as a fleet entry; one that is not JSON, not a valid
 * entry, or a second fleet of a name already served is left out and named in `problems` (one bad
 * parameter must not stop the other fleets).
 */
export function withDirectoryFleets(
  config: FleetRuntimeConfig,
  entries: ReadonlyArray<{ readonly name: string; readonly value: string }>,
): { config: FleetRuntimeConfig; problems: string[] } {
  const problems: string[] = [];
  const fleets = [...config.fleets];
  for (const entry of [...entries].sort((a, b) => a.name.localeCompare(b.name))) {
    let data: unknown;
    try {
      data = JSON.parse(entry.value);
    } catch (e) {
      problems.push(`${entry.name}: not JSON (${(e as Error).message})`);
      continue;
    }
    if (!isObject(data)) {
      problems.push(`${entry.name}: expected a JSON object`);
      continue;
    }
    const own: string[] = [];
    const fleet = decodeShape(FLEET_ENTRY_SCHEMA, data, entry.name, own);
    if (own.length === 0 && fleets.some((f) => f.name === fleet.name)) {
      own.push(`${entry.name}: fleet ${JSON.stringify(fleet.name)} is served already`);
    }
    if (own.length > 0) {
      problems.push(...own);
      continue;
    }
    fleets.push(fleet);
  }
  return { config: { ...config, fleets }, problems };
}

/** Decodes one value of a shape: each described field, then the rules between them. */
function decodeShape<T>(shape: ShapeSchema<T>, value: Json, path: string, problems: string[]): T {
  const out: Json = {};
  for (const [field, spec] of Object.entries(shape.fields) as Array<[string, FieldSpec]>) {
    const at = path ? `${path}.${field}` : field;
    const decoded = decodeField(spec, value[field], value, at, problems);
    if (decoded !== undefined) {
      out[field] = decoded;
    }
  }
  const decoded = out as T;
  for (const rule of shape.rules ?? []) {
    for (const { field, problem } of rule(decoded)) {
      problems.push(`${path ? `${path}.` : ''}${field}: ${problem}`);
    }
  }
  return decoded;
}

/** The union of every field spec, as the decoder walks them. */
type FieldSpec = {
  readonly kind: 'string' | 'integer' | 'boolean' | 'literal' | 'strings' | 'object' | 'objects';
  readonly optional?: boolean;
  readonly default?: unknown;
  readonly requiredUnless?: string;
  readonly allowEmpty?: boolean;
  readonly oneOf?: readonly string[];
  readonly check?: (value: string) => string | undefined;
  readonly normalize?: (value: string) => string;
  readonly min?: number;
  readonly value?: number;
  readonly shape?: ShapeSchema<unknown>;
  readonly emptyWhen?: string;
};

function decodeField(spec: FieldSpec, value: unknown, parent: Json, at: string, problems: string[]): unknown {
  const mayBeAbsent = spec.requiredUnless !== undefined ? typeof parent[spec.requiredUnless] === 'string' : spec.optional;
  if (value === undefined && mayBeAbsent) {
    return spec.default;
  }
  switch (spec.kind) {
    case 'literal':
      if (value !== spec.value) {
        problems.push(`${at}: expected ${JSON.stringify(spec.value)}, got ${JSON.stringify(value)}`);
      }
      return spec.value;
    case 'string':
      return decodeString(spec, value, at, problems);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min!) {
        problems.push(`${at}: expected a whole number >= ${spec.min}, got ${JSON.stringify(value)}`);
        return spec.min;
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') {
        problems.push(`${at}: expected true or false, got ${JSON.stringify(value)}`);
        return spec.default ?? false;
      }
      return value;
    case 'strings':
      if (!Array.isArray(value) || value.length === 0 || !value.every((l) => typeof l === 'string' && l !== '')) {
        problems.push(`${at}: expected a non-empty array of strings, got ${JSON.stringify(value)}`);
        return [];
      }
      return [...value];
    case 'object':
      if (!isObject(value)) {
        problems.push(`${at}: expected an object`);
        return undefined;
      }
      return decodeShape(spec.shape!, value, at, problems);
    case 'objects':
      if (spec.emptyWhen !== undefined && typeof parent[spec.emptyWhen] === 'string' && Array.isArray(value) && value.length === 0) {
        return [];
      }
      return decodeList(spec.shape!, value, at, problems);
  }
}

function decodeString(spec: FieldSpec, value: unknown, at: string, problems: string[]): string {
  if (spec.oneOf) {
    if (typeof value !== 'string' || !spec.oneOf.includes(value)) {
      problems.push(`${at}: expected ${oneOfText(spec.oneOf)}, got ${JSON.stringify(value)}`);
    }
    // Kept as it came, so that the rules between fields can name it.
    return value as string;
  }
  if (typeof value !== 'string' || (value === '' && !spec.allowEmpty)) {
    problems.push(`${at}: expected a ${spec.allowEmpty ? '' : 'non-empty '}string, got ${JSON.stringify(value)}`);
    return spec.optional && typeof spec.default === 'string' ? spec.default : '';
  }
  const problem = spec.check?.(value);
  if (problem !== undefined) {
    problems.push(`${at}: ${problem}`);
  }
  return spec.normalize ? spec.normalize(value) : value;
}

function decodeList(shape: ShapeSchema<unknown>, value: unknown, at: string, problems: string[]): unknown[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${at}: expected a non-empty array`);
    return [];
  }
  const items = value.map((item, i) => {
    if (!isObject(item)) {
      problems.push(`${at}[${i}]: expected an object`);
      return undefined;
    }
    return decodeShape(shape, item, `${at}[${i}]`, problems);
  });
  const decoded = items.filter((item) => item !== undefined);
  if (decoded.length === items.length) {
    for (const rule of shape.listRules ?? []) {
      for (const { index, field, problem } of rule(decoded)) {
        problems.push(`${at}[${index}].${field}: ${problem}`);
      }
    }
  }
  return items;
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`. */
function oneOfText(values: readonly string[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
