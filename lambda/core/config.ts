import type { FleetRuntimeConfig, FleetRuntimeEntry, GitHubRuntimeConfig, WebhookRuntimeConfig } from '../../src/contract';

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
  const problems: string[] = [];
  if (!isObject(data)) {
    throw new ConfigError(['expected a JSON object']);
  }
  if (data.version !== 1) {
    problems.push(`version: expected 1, got ${JSON.stringify(data.version)}`);
  }
  const github = parseGitHub(data.github, problems);
  const fleets = parseFleets(data.fleets, problems);
  const webhook = data.webhook === undefined ? undefined : parseWebhook(data.webhook, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return { version: 1, github: github!, fleets, ...(webhook ? { webhook } : {}) };
}

function parseGitHub(value: unknown, problems: string[]): GitHubRuntimeConfig | undefined {
  if (!isObject(value)) {
    problems.push('github: expected an object');
    return undefined;
  }
  const scope = value.scope;
  if (scope !== 'organization' && scope !== 'repository' && scope !== 'enterprise') {
    problems.push(`github.scope: expected "organization", "repository" or "enterprise", got ${JSON.stringify(scope)}`);
  }
  const owner = nonEmptyString(value.owner, 'github.owner', problems);
  const repo = value.repo;
  if (scope === 'repository' && (typeof repo !== 'string' || repo === '')) {
    problems.push(`github.repo: required for repository scope, got ${JSON.stringify(repo)}`);
  }
  if (scope !== 'repository' && repo !== undefined) {
    problems.push(`github.repo: not allowed for ${String(scope)} scope, got ${JSON.stringify(repo)}`);
  }
  const apiUrl = nonEmptyString(value.apiUrl, 'github.apiUrl', problems);
  if (apiUrl !== undefined && !isAllowedApiUrl(apiUrl)) {
    problems.push(`github.apiUrl: expected an https URL (http only on loopback), got ${JSON.stringify(apiUrl)}`);
  }
  const secretArn = nonEmptyString(value.secretArn, 'github.secretArn', problems);
  if (value.auth !== 'app' && value.auth !== 'token') {
    problems.push(`github.auth: expected "app" or "token", got ${JSON.stringify(value.auth)}`);
  }
  return {
    scope: scope as GitHubRuntimeConfig['scope'],
    owner: owner ?? '',
    repo: typeof repo === 'string' ? repo : undefined,
    apiUrl: (apiUrl ?? '').replace(/\/+$/, ''),
    secretArn: secretArn ?? '',
    auth: value.auth as GitHubRuntimeConfig['auth'],
  };
}

function parseFleets(value: unknown, problems: string[]): FleetRuntimeEntry[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push('fleets: expected a non-empty array');
    return [];
  }
  const names = new Set<string>();
  return value.map((entry, i) => {
    const at = `fleets[${i}]`;
    if (!isObject(entry)) {
      problems.push(`${at}: expected an object`);
      return undefined as unknown as FleetRuntimeEntry;
    }
    const name = nonEmptyString(entry.name, `${at}.name`, problems) ?? '';
    if (names.has(name)) {
      problems.push(`${at}.name: ${JSON.stringify(name)} appears twice`);
    }
    names.add(name);
    const labels = Array.isArray(entry.labels) && entry.labels.every((l) => typeof l === 'string' && l !== '')
      ? (entry.labels as string[]) : undefined;
    if (!labels || labels.length === 0) {
      problems.push(`${at}.labels: expected a non-empty array of strings, got ${JSON.stringify(entry.labels)}`);
    }
    const fleetLabel = nonEmptyString(entry.fleetLabel, `${at}.fleetLabel`, problems) ?? '';
    if (labels && fleetLabel && !labels.some((l) => l.toLowerCase() === fleetLabel.toLowerCase())) {
      problems.push(`${at}.fleetLabel: ${JSON.stringify(fleetLabel)} must be one of the labels`);
    }
    if (entry.mode !== 'ephemeral' && entry.mode !== 'persistent') {
      problems.push(`${at}.mode: expected "ephemeral" or "persistent", got ${JSON.stringify(entry.mode)}`);
    }
    const secretPrefix = nonEmptyString(entry.secretPrefix, `${at}.secretPrefix`, problems) ?? '';
    if (secretPrefix && !secretPrefix.endsWith('/')) {
      problems.push(`${at}.secretPrefix: must end with "/", got ${JSON.stringify(secretPrefix)}`);
    }
    if (entry.directScaleOut !== undefined && typeof entry.directScaleOut !== 'boolean') {
      problems.push(`${at}.directScaleOut: expected true or false, got ${JSON.stringify(entry.directScaleOut)}`);
    }
    if (entry.runnerGroupName !== undefined && typeof entry.runnerGroupName !== 'string') {
      problems.push(`${at}.runnerGroupName: expected a string, got ${JSON.stringify(entry.runnerGroupName)}`);
    }
    return {
      name,
      autoScalingGroupName: nonEmptyString(entry.autoScalingGroupName, `${at}.autoScalingGroupName`, problems) ?? '',
      instanceRoleName: nonEmptyString(entry.instanceRoleName, `${at}.instanceRoleName`, problems) ?? '',
      fleetLabel,
      labels: labels ?? [],
      mode: entry.mode as FleetRuntimeEntry['mode'],
      runnerGroupId: entry.runnerGroupId === undefined && typeof entry.runnerGroupName === 'string'
        ? undefined
        : wholeNumber(entry.runnerGroupId, `${at}.runnerGroupId`, 1, problems),
      runnerGroupName: typeof entry.runnerGroupName === 'string' ? entry.runnerGroupName : undefined,
      secretPrefix,
      offlineGraceSeconds: wholeNumber(entry.offlineGraceSeconds, `${at}.offlineGraceSeconds`, 0, problems),
      drainTimeoutSeconds: wholeNumber(entry.drainTimeoutSeconds, `${at}.drainTimeoutSeconds`, 0, problems),
      idleTarget: entry.idleTarget === undefined ? 0 : wholeNumber(entry.idleTarget, `${at}.idleTarget`, 0, problems),
      os: optionalLabel(entry.os, `${at}.os`, 'linux', problems),
      architecture: optionalLabel(entry.architecture, `${at}.architecture`, 'x64', problems),
      directScaleOut: entry.directScaleOut === true,
    };
  });
}

function parseWebhook(value: unknown, problems: string[]): WebhookRuntimeConfig | undefined {
  if (!isObject(value)) {
    problems.push('webhook: expected an object');
    return undefined;
  }
  return {
    tableName: nonEmptyString(value.tableName, 'webhook.tableName', problems) ?? '',
    secretArn: nonEmptyString(value.secretArn, 'webhook.secretArn', problems) ?? '',
    maxBodyBytes: wholeNumber(value.maxBodyBytes, 'webhook.maxBodyBytes', 1, problems),
  };
}

function optionalLabel(value: unknown, path: string, fallback: string, problems: string[]): string {
  if (value === undefined) {
    return fallback;
  }
  return nonEmptyString(value, path, problems) ?? fallback;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown, path: string, problems: string[]): string | undefined {
  if (typeof value !== 'string' || value === '') {
    problems.push(`${path}: expected a non-empty string, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return value;
}

function wholeNumber(value: unknown, path: string, min: number, problems: string[]): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    problems.push(`${path}: expected a whole number >= ${min}, got ${JSON.stringify(value)}`);
    return min;
  }
  return value;
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
