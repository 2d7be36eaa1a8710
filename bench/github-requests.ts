/**
 * Benchmark (not a test): how many GitHub REST requests per minute one control plane makes.
 *
 * A control plane is three functions (idle-metric, deregistration, registration) serving one GitHub
 * connection and N fleets. For 1, 5 and 20 fleets at 100 and 2,000 runners, each scenario starts the fake
 * GitHub server (loopback only), seeds the runners spread over the fleets, composes the three functions as
 * their cold start does (the real GitHub adapter: Octokit with auth-app, retry and throttling; one client
 * and one App token cache per function) with in-memory AWS ports, and plays a simulated hour:
 *
 * - idle-metric every minute (60 invocations);
 * - the deregistration sweep every 5 minutes (12 invocations);
 * - churn: 10% of the runners replaced per hour, evenly spread; a replacement is one terminate lifecycle
 *   event (deregistration) and one launch into service (registration), after which the new runner is online.
 *
 * Five simulated minutes of the same schedule run first and are not counted (the cold starts). Time is
 * simulated (bench/lib/sim-clock.ts): nothing sleeps, and the App token cache ages as it would. Every
 * request the fake server records is counted, per kind and per function.
 *
 * Each scenario runs in a child process of its own (its own clock, modules and memory figures), two at a
 * time by default.
 *
 * Run:     npx ts-node --transpile-only -P bench/tsconfig.json bench/github-requests.ts
 * Options: --jobs N (scenarios at a time, default 2), --minutes N (measured window, default 60)
 */
import { fork } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { REQUEST_KINDS, RequestKind } from './lib/requests';
import { BUSY_EVERY, FUNCTIONS, REPLACED_PER_HOUR, runScenario, Scenario, ScenarioResult, SWEEP_EVERY_MINUTES, WARMUP_MINUTES } from './lib/scenario';
import { fixed, markdownTable, megabytes, minuteSecond } from './lib/table';

const FLEET_COUNTS = [1, 5, 20];
const RUNNER_COUNTS = [100, 2000];
/** The primary rate limit of a GitHub App installation (before any increase for larger organizations). */
const APP_LIMIT_PER_HOUR = 5000;

interface Options {
  readonly minutes: number;
  readonly jobs: number;
  /** Set in a child process: the one scenario to run. */
  readonly scenario?: Scenario;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.scenario) {
    await runChild(options.scenario, options.minutes);
    return;
  }
  const scenarios = FLEET_COUNTS.flatMap((fleets) => RUNNER_COUNTS.map((runners) => ({ fleets, runners })));
  const started = performance.now();
  const results = await runAll(scenarios, options);
  printReport(results, options, performance.now() - started);
  if (results.some((r) => r.problems.length > 0)) {
    process.exitCode = 1;
  }
}

function parseOptions(args: string[]): Options {
  const value = (name: string): string | undefined => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const whole = (name: string, fallback: number): number => {
    const n = Number(value(name) ?? fallback);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`${name} takes a whole number, at least 1`);
    }
    return n;
  };
  const scenario = value('--scenario')?.split('x').map(Number); // e.g. 5x2000
  return {
    minutes: whole('--minutes', 60),
    jobs: whole('--jobs', Math.min(2, os.availableParallelism())),
    scenario: scenario ? { fleets: scenario[0], runners: scenario[1] } : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------
// Processes: one per scenario, `jobs` at a time

/** In a child process: runs the scenario and sends its result to the parent. */
async function runChild(scenario: Scenario, minutes: number): Promise<void> {
  const result = await runScenario(scenario, minutes);
  await new Promise<void>((resolve, reject) => process.send!(result, (error: Error | null) => (error ? reject(error) : resolve())));
}

async function runAll(scenarios: Scenario[], options: Options): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = new Array(scenarios.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < scenarios.length) {
      const index = next++;
      results[index] = await runInChild(scenarios[index], options.minutes);
      const r = results[index];
      process.stderr.write(`done: ${r.fleets} fleet(s), ${r.runners} runners in ${fixed(r.wallMs / 1000, 1)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.jobs, scenarios.length) }, worker));
  return results;
}

/** Runs this script again, with ts-node, for one scenario. */
function runInChild(scenario: Scenario, minutes: number): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--scenario', `${scenario.fleets}x${scenario.runners}`, '--minutes', String(minutes)], {
      cwd: path.resolve(__dirname, '..'),
      execArgv: ['--require', require.resolve('ts-node/register/transpile-only')],
      env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, 'tsconfig.json') },
    });
    let result: ScenarioResult | undefined;
    child.on('message', (message) => {
      result = message as ScenarioResult;
    });
    child.on('error', reject);
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`scenario ${JSON.stringify(scenario)} exited with ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------------
// Report

function printReport(results: ScenarioResult[], options: Options, wallMs: number): void {
  const { minutes } = options;
  const perMinute = (count: number) => count / minutes;
  const perHour = (count: number) => count * 60 / minutes;
  const kindLabel: Record<RequestKind, string> = {
    list: 'list pages', lookup: 'name lookups', register: 'JIT', delete: 'deletes', token: 'tokens', other: 'other',
  };

  console.log(`GitHub REST requests of one control plane (3 functions, 1 GitHub App connection), ${minutes} simulated minutes measured`);
  console.log(`machine: ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}, ${os.platform()} ${os.arch()}`);
  console.log(`schedule: idle-metric every minute, sweep every ${SWEEP_EVERY_MINUTES} minutes, ${REPLACED_PER_HOUR * 100}% of the runners replaced per hour `
    + `(1 termination + 1 registration each), every ${BUSY_EVERY}th runner busy; ${WARMUP_MINUTES} minutes of warm-up not counted`);
  console.log();

  console.log('Requests per minute, by kind');
  console.log(markdownTable(
    ['fleets', 'runners', ...REQUEST_KINDS.map((k) => `${kindLabel[k]}/min`), 'total/min', 'total/h', `% of ${APP_LIMIT_PER_HOUR}/h`, 'tokens minted/h'],
    results.map((r) => [
      String(r.fleets),
      String(r.runners),
      ...REQUEST_KINDS.map((k) => fixed(perMinute(r.total.byKind[k]), 2)),
      fixed(perMinute(r.total.total), 2),
      fixed(perHour(r.total.total), 0),
      fixed(perHour(r.total.total) / APP_LIMIT_PER_HOUR * 100, 1),
      fixed(perHour(r.total.byKind.token), 0),
    ]),
  ));
  console.log();

  console.log('Requests per invocation and per hour, by function; App tokens minted in the window (function and mm:ss into it)');
  console.log(markdownTable(
    ['fleets', 'runners', ...FUNCTIONS.flatMap((fn) => [`${fn} calls`, 'req/call', 'req/h']), 'cold-start tokens', 'tokens minted in the window'],
    results.map((r) => [
      String(r.fleets),
      String(r.runners),
      ...FUNCTIONS.flatMap((fn) => {
        const f = r.perFunction[fn];
        return [String(f.invocations), fixed(f.total / Math.max(1, f.invocations), 2), fixed(perHour(f.total), 0)];
      }),
      String(r.warmupMints),
      r.mints.map((m) => `${m.fn} ${minuteSecond(m.atMs)}`).join(', '),
    ]),
  ));
  console.log();

  console.log('Cost of each scenario (its own process: ts-node, the fake GitHub server and the three functions)');
  console.log(markdownTable(
    ['fleets', 'runners', 'wall time (s)', 'heapUsed before (MB)', 'heapUsed peak (MB)', 'rss before (MB)', 'rss peak (MB)'],
    results.map((r) => [
      String(r.fleets), String(r.runners), fixed(r.wallMs / 1000, 2),
      megabytes(r.memory.baseHeapUsed), megabytes(r.memory.peakHeapUsed), megabytes(r.memory.baseRss), megabytes(r.memory.peakRss),
    ]),
  ));
  console.log();

  const failedAnswers = results.reduce((n, r) => n + r.total.failed, 0);
  const problems = results.flatMap((r) => r.problems.map((p) => `${r.fleets} fleet(s), ${r.runners} runners: ${p}`));
  console.log(`checks: ${failedAnswers} non-2xx answers; `
    + (problems.length === 0 ? 'every listing counted every runner, terminations were left to the retiring instances, sweeps removed only retired runners, nothing logged above info' : 'PROBLEMS:'));
  for (const problem of problems.slice(0, 20)) {
    console.log(`  - ${problem}`);
  }
  console.log(`total wall time: ${fixed(wallMs / 1000, 1)} s with ${options.jobs} scenario(s) at a time`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
