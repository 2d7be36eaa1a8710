/**
 * Benchmark (not a test): size and cold initialisation of the five function bundles.
 *
 * For each bundle in assets/lambda/<name>.lambda/index.js (build them first: `npx projen bundle`), it
 * reports the size on disk (minified, `@aws-sdk/*` external, as projen bundles them) and the time a fresh
 * `node` process takes to `require` the bundle up to its `handler` export being ready: what a Lambda cold
 * start spends in our code before the first invocation. Every run is a process of its own, measured inside
 * it with `performance.now()` around the `require`; the bundles' `@aws-sdk/*` imports resolve from the
 * repository's node_modules (the Lambda runtime provides them). The child gets the configuration its
 * function has in the synthesized example stack (cdk.out/GitHubRunnerFleetExample.template.json, from
 * `npm run example`), with every `Ref` replaced by a plausible value, and the region of a Lambda
 * environment. It also reports which AWS SDK clients the bundle loaded at initialisation, and what
 * requiring each client package costs in a fresh process (now paid on the first call that needs it).
 *
 * The figures are printed next to those of bench/bundles-baseline.json (the bundles before they loaded
 * their SDK clients lazily), with the limits: 150 KB (150,000 bytes) and 100 ms of median cold init.
 * Missing a limit is printed, not failed: the exit code is 0 unless a bundle cannot be loaded at all.
 *
 * Run:     npm run bench:bundles   (Node 22 from node_modules/.bin; or
 *          ts-node --transpile-only -P bench/tsconfig.json bench/bundles.ts)
 * Options: --runs N (fresh processes per bundle, default 15),
 *          --against DIR (also measure the bundles of another asset tree, e.g. an older commit's, in turn with these),
 *          --write-baseline (record these figures as bench/bundles-baseline.json instead of comparing)
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { markdownTable } from './lib/table';

const ROOT = path.resolve(__dirname, '..');
const BUNDLES = ['registration', 'deregistration', 'idle-metric', 'webhook', 'instance-agent'] as const;
type BundleName = typeof BUNDLES[number];
const TEMPLATE = path.join(ROOT, 'cdk.out', 'GitHubRunnerFleetExample.template.json');
const BASELINE = path.join(__dirname, 'bundles-baseline.json');

/** The limits of issue 10: 150 KB minified, 100 ms of cold initialisation (median). */
const SIZE_LIMIT_BYTES = 150_000;
const INIT_LIMIT_MS = 100;

/** The environment a Lambda execution environment has, besides the function's own variables. */
const LAMBDA_ENV = { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', NODE_OPTIONS: '' };

interface BundleFigures {
  readonly bytes: number;
  readonly initMedianMs: number;
  readonly initMaxMs: number;
  readonly initMinMs: number;
  readonly runs: number;
  /** The @aws-sdk/client-* packages loaded by the time the handler export was ready. */
  readonly sdkClientsAtInit: string[];
}

interface Baseline {
  readonly commit: string;
  readonly date: string;
  readonly node: string;
  readonly machine: string;
  readonly note?: string;
  readonly bundles: Record<BundleName, BundleFigures>;
}

/** The SDK client packages the functions use: what loading each costs, now on the first call that needs it. */
const SDK_PACKAGES = ['@aws-sdk/client-auto-scaling', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-dynamodb'];

/**
 * Runs in the child: requires a bundle (and checks its `handler` export) or an SDK package, and prints
 * the time it took and the SDK clients loaded by then.
 */
const CHILD = `
const { performance } = require('perf_hooks');
const started = performance.now();
const loaded = require(process.argv[1]);
if (process.argv[2] === 'bundle' && typeof loaded.handler !== 'function') { throw new Error('the bundle exports no handler function'); }
const ms = performance.now() - started;
const clients = new Set();
for (const file of Object.keys(require.cache)) {
  const m = /[\\\\/]node_modules[\\\\/]@aws-sdk[\\\\/](client-[a-z0-9-]+)[\\\\/]/.exec(file);
  if (m) clients.add(m[1]);
}
process.stdout.write(JSON.stringify({ ms, version: process.version, clients: [...clients].sort() }));
`;

function main(): void {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 15;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error('--runs takes a whole number, at least 1');
  }
  const writeBaseline = args.includes('--write-baseline');

  const againstAt = args.indexOf('--against');
  const against = againstAt >= 0 ? path.resolve(args[againstAt + 1] ?? '') : undefined;

  const configs = fleetConfigs();
  const loadBefore = os.loadavg()[0];
  const trees = [path.join(ROOT, 'assets'), ...(against ? [against] : [])];
  const measured = measure(trees, configs, runs);
  const figures = measured[0];
  const childVersion = measured.version;

  const machine = `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${os.platform()} ${os.arch()}`;
  console.log('Function bundles: size and cold initialisation');
  console.log(`machine: ${machine}; benchmark on node ${process.version}, children on node ${childVersion} (${process.execPath})`);
  console.log(`cold init: require() of the bundle in a fresh node process, ${runs} processes per bundle (after one not counted)`);
  console.log(`load average (1 min) before and after the runs: ${loadBefore.toFixed(2)}, ${os.loadavg()[0].toFixed(2)} (a busy machine slows cold starts)`);
  console.log(`limits: ${SIZE_LIMIT_BYTES / 1000} KB (${SIZE_LIMIT_BYTES.toLocaleString('en-US')} bytes) per bundle, ${INIT_LIMIT_MS} ms median cold init`);
  console.log('');

  if (writeBaseline) {
    const baseline: Baseline = {
      commit: git('rev-parse', '--short', 'HEAD'),
      date: new Date().toISOString(),
      node: childVersion,
      machine,
      bundles: figures,
    };
    fs.writeFileSync(BASELINE, `${JSON.stringify(baseline, undefined, 2)}\n`);
    console.log(report(figures, undefined));
    console.log(`\nbaseline written to ${path.relative(ROOT, BASELINE)} (commit ${baseline.commit})`);
    return;
  }

  const baseline = fs.existsSync(BASELINE) ? JSON.parse(fs.readFileSync(BASELINE, 'utf8')) as Baseline : undefined;
  if (baseline) {
    console.log(`baseline: commit ${baseline.commit}, ${baseline.date}, node ${baseline.node}, ${baseline.machine}`);
    if (baseline.note) {
      console.log(`          ${baseline.note}`);
    }
    console.log('');
  }
  console.log(report(figures, baseline));
  if (against) {
    console.log('');
    console.log(`Interleaved with the bundles of ${path.relative(ROOT, against)} (one process of each in turn, so both see the same load):`);
    console.log('');
    console.log(againstReport(measured[1], figures));
  }
  console.log('');
  console.log(sdkPackageReport(runs));
  const missed = BUNDLES.filter((name) => !withinLimits(figures[name]));
  console.log('');
  console.log(missed.length === 0
    ? `All ${BUNDLES.length} bundles are within the limits.`
    : `LIMIT MISSED by ${missed.join(', ')} (this is a benchmark, not a test: the exit code stays 0).`);
}

/**
 * Size and cold init of the bundles of each asset tree (`<tree>/lambda/<name>.lambda/index.js`); with two
 * trees, their processes alternate, so a change in the machine's load affects both alike.
 */
function measure(trees: string[], configs: Record<BundleName, string>, runs: number): Array<Record<BundleName, BundleFigures>> & { version: string } {
  const results = trees.map(() => ({} as Record<BundleName, BundleFigures>));
  let version = '';
  for (const name of BUNDLES) {
    const env = { ...process.env, ...LAMBDA_ENV, RUNNER_FLEET_CONFIG: configs[name] };
    const files = trees.map((tree) => path.join(tree, 'lambda', `${name}.lambda`, 'index.js'));
    for (const file of files) {
      if (!fs.existsSync(file)) {
        throw new Error(`${path.relative(ROOT, file)} is missing: run \`npx projen bundle\` first`);
      }
      coldRequire(file, env, 'bundle'); // not counted: the first read of the files from disk
    }
    const times = files.map(() => [] as number[]);
    const clients = files.map(() => [] as string[]);
    for (let i = 0; i < runs; i++) {
      files.forEach((file, t) => {
        const result = coldRequire(file, env, 'bundle');
        times[t].push(result.ms);
        clients[t] = result.clients;
        version = result.version;
      });
    }
    files.forEach((file, t) => {
      const sorted = times[t].sort((a, b) => a - b);
      results[t][name] = {
        bytes: fs.statSync(file).size,
        initMedianMs: round(median(sorted)),
        initMaxMs: round(sorted[sorted.length - 1]),
        initMinMs: round(sorted[0]),
        runs,
        sdkClientsAtInit: clients[t],
      };
    });
  }
  return Object.assign(results, { version });
}

function againstReport(other: Record<BundleName, BundleFigures>, now: Record<BundleName, BundleFigures>): string {
  const rows = BUNDLES.map((name) => [
    name,
    (other[name].bytes / 1000).toFixed(1),
    `${other[name].initMedianMs.toFixed(1)} / ${other[name].initMaxMs.toFixed(1)}`,
    (now[name].bytes / 1000).toFixed(1),
    `${now[name].initMedianMs.toFixed(1)} / ${now[name].initMaxMs.toFixed(1)}`,
  ]);
  return markdownTable(['Bundle', 'KB (other)', 'init ms (other, median / max)', 'KB now', 'init ms now (median / max)'], rows);
}

function report(figures: Record<BundleName, BundleFigures>, baseline: Baseline | undefined): string {
  const kb = (bytes: number) => (bytes / 1000).toFixed(1);
  const ms = (value: number) => value.toFixed(1);
  const header = baseline
    ? ['Bundle', 'KB before', 'KB now', 'bytes now', 'init ms before (median/max)', 'init ms now (median)', 'now (max)', 'SDK clients loaded at init, now', 'within limits']
    : ['Bundle', 'KB', 'bytes', 'init ms (median)', 'init ms (max)', 'SDK clients loaded at init', 'within limits'];
  const rows = BUNDLES.map((name) => {
    const now = figures[name];
    const clients = now.sdkClientsAtInit.length > 0 ? now.sdkClientsAtInit.map((c) => c.replace('client-', '')).join(', ') : 'none';
    const verdict = withinLimits(now) ? 'yes' : `NO (${[
      now.bytes > SIZE_LIMIT_BYTES ? 'size' : '',
      now.initMedianMs > INIT_LIMIT_MS ? 'init' : '',
    ].filter(Boolean).join(', ')})`;
    if (!baseline) {
      return [name, kb(now.bytes), String(now.bytes), ms(now.initMedianMs), ms(now.initMaxMs), clients, verdict];
    }
    const before = baseline.bundles[name];
    return [
      name,
      before ? kb(before.bytes) : '-',
      kb(now.bytes),
      String(now.bytes),
      before ? `${ms(before.initMedianMs)} / ${ms(before.initMaxMs)}` : '-',
      ms(now.initMedianMs),
      ms(now.initMaxMs),
      clients,
      verdict,
    ];
  });
  return markdownTable(header, rows);
}

/**
 * What requiring each SDK client package costs in a fresh process: before, every cold start paid all
 * three; now a function pays for a package on the first call that needs it, and never for one it does
 * not use.
 */
function sdkPackageReport(runs: number): string {
  const rows = SDK_PACKAGES.map((pkg) => {
    const env = { ...process.env, ...LAMBDA_ENV };
    coldRequire(pkg, env, 'package');
    const times = Array.from({ length: runs }, () => coldRequire(pkg, env, 'package').ms).sort((a, b) => a - b);
    return [pkg, median(times).toFixed(1), times[times.length - 1].toFixed(1)];
  });
  return markdownTable(['SDK package (on its first use now)', 'require ms (median)', 'require ms (max)'], rows);
}

function withinLimits(f: BundleFigures): boolean {
  return f.bytes <= SIZE_LIMIT_BYTES && f.initMedianMs <= INIT_LIMIT_MS;
}

function coldRequire(file: string, env: NodeJS.ProcessEnv, kind: 'bundle' | 'package'): { ms: number; version: string; clients: string[] } {
  const child = spawnSync(process.execPath, ['-e', CHILD, file, kind], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) {
    throw new Error(`${path.relative(ROOT, file)} did not load (exit ${child.status}):\n${child.stderr || child.stdout}`);
  }
  return JSON.parse(child.stdout);
}

/**
 * RUNNER_FLEET_CONFIG of each function in the synthesized example stack, its `Fn::Join` resolved: a
 * secret's `Ref` becomes a Secrets Manager ARN, any other `Ref` (a role, the job table) its logical id.
 */
function fleetConfigs(): Record<BundleName, string> {
  if (!fs.existsSync(TEMPLATE)) {
    throw new Error(`${path.relative(ROOT, TEMPLATE)} is missing: run \`npm run example\` first`);
  }
  const template = JSON.parse(fs.readFileSync(TEMPLATE, 'utf8')) as { Resources: Record<string, { Type: string; Properties?: any }> };
  const resolve = (value: unknown): string => {
    if (typeof value === 'string') {
      return value;
    }
    const v = value as Record<string, any>;
    if (v['Fn::Join']) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(resolve).join(separator);
    }
    if (typeof v.Ref === 'string') {
      const type = template.Resources[v.Ref]?.Type;
      return type === 'AWS::SecretsManager::Secret' ? `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${v.Ref}-AbCdEf` : v.Ref;
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)} in RUNNER_FLEET_CONFIG`);
  };
  const configs = {} as Record<BundleName, string>;
  for (const name of BUNDLES) {
    const pascal = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
    const entry = Object.entries(template.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function'
      && new RegExp(`(^|[a-z])${pascal}Function[0-9A-F]{8}$`).test(id));
    const raw = entry?.[1].Properties?.Environment?.Variables?.RUNNER_FLEET_CONFIG;
    if (raw === undefined) {
      throw new Error(`no ${name} function with RUNNER_FLEET_CONFIG in ${path.relative(ROOT, TEMPLATE)}`);
    }
    configs[name] = resolve(raw);
  }
  return configs;
}

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

main();
