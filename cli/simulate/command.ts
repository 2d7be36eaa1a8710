import { ASSUMPTION_SOURCES, Assumptions, DEFAULT_ASSUMPTIONS, withAssumptions } from './assumptions';
import { Random } from './engine';
import { configurations, readTrace, Scenario, SCENARIOS, SETTING_NAMES } from './scenarios';
import { FleetModel, readFleets } from './template';
import { RunResult, simulate } from './world';

export interface SimulateOptions {
  readonly app: string;
  readonly fleet?: string;
  readonly scenario?: string;
  readonly trace?: string;
  readonly set: string[];
  readonly assume: string[];
  readonly seed: number;
  readonly json: boolean;
}

/** One line of `simulate --json`: a scenario run under one configuration. */
export interface SimulationRow extends RunResult {
  readonly scenario: string;
  readonly fleet: string;
}

export const SIMULATE_USAGE = `Usage: cdk-github-runner-fleet simulate [options]

Runs the control plane's real decision code (the webhook and minute-tick handlers, with the capacity
controller) on a simulated clock against models of EC2 Auto Scaling, CloudWatch alarms and GitHub, for a
fleet read from a synthesized template, and prints time to runner, instance-hours and excess capacity.

Options:
  --app PATH            cloud assembly folder or template file (default: cdk.out)
  --fleet NAME          the fleet to simulate (default: the first one found)
  --scenario NAME       one of ${SCENARIOS.map((s) => s.name).join(', ')} (default: all of them)
  --trace FILE          your own jobs instead: CSV (queuedAt,duration[,labels]) or JSON
  --set NAME=VALUE      change a fleet setting for a what-if (repeatable): ${SETTING_NAMES.join(', ')}
  --assume NAME=VALUE   change a timing assumption, in seconds or min-max (repeatable): ${Object.keys(DEFAULT_ASSUMPTIONS).join(', ')}
  --seed N              random seed (default: 1); the same seed gives the same figures
  --json                print a JSON array, one object per scenario and configuration
  --help                this text, with every assumption and its source

Configurations: fleet (as synthesized), fleet-no-webhook (the same without the demand signal), reference
(idle-runner metric every minute, simple scaling +1/-1 with 60 s / 180 s cooldowns, two warm instances).
`;

/** The assumptions and their sources, for --help. */
export function assumptionHelp(assume: Assumptions = DEFAULT_ASSUMPTIONS): string {
  return Object.entries(assume).map(([name, value]) => {
    const shown = typeof value === 'number' ? `${value}` : `${value.min}-${value.max}`;
    return `  ${name} = ${shown} s\n      ${ASSUMPTION_SOURCES[name as keyof Assumptions]}`;
  }).join('\n');
}

/** Parses `simulate`'s arguments; throws naming the option and the fix. */
export function parseSimulateArgs(args: string[]): SimulateOptions | 'help' {
  const options = { app: 'cdk.out', set: [] as string[], assume: [] as string[], seed: 1, json: false } as {
    app: string; fleet?: string; scenario?: string; trace?: string; set: string[]; assume: string[]; seed: number; json: boolean;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value: ${arg} ${placeholder(arg)}`);
      return v;
    };
    switch (arg) {
      case '--help': case '-h': return 'help';
      case '--app': options.app = value(); break;
      case '--fleet': options.fleet = value(); break;
      case '--scenario': options.scenario = value(); break;
      case '--trace': options.trace = value(); break;
      case '--set': options.set.push(value()); break;
      case '--assume': options.assume.push(value()); break;
      case '--json': options.json = true; break;
      case '--seed': {
        const v = value();
        if (!/^\d+$/.test(v)) throw new Error(`--seed ${v}: expected a whole number, e.g. --seed 7`);
        options.seed = Number(v);
        break;
      }
      default:
        throw new Error(`unknown option ${JSON.stringify(arg)}: see cdk-github-runner-fleet simulate --help`);
    }
  }
  if (options.scenario && options.trace) {
    throw new Error('--scenario and --trace exclude each other: give one');
  }
  if (options.scenario && !SCENARIOS.some((s) => s.name === options.scenario)) {
    throw new Error(`--scenario ${options.scenario}: unknown; use one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return options;
}

function placeholder(option: string): string {
  const examples: Record<string, string> = {
    '--app': 'cdk.out',
    '--fleet': 'NAME',
    '--scenario': 'burst10',
    '--trace': 'jobs.csv',
    '--set': 'maxCapacity=30',
    '--assume': 'warmStart=15-40',
    '--seed': '7',
  };
  return examples[option] ?? 'VALUE';
}

/** Picks the fleet to simulate. */
export function chooseFleet(fleets: FleetModel[], name?: string): FleetModel {
  if (!name) return fleets[0];
  const found = fleets.find((f) => f.fleet.name === name);
  if (!found) {
    throw new Error(`--fleet ${name}: no such fleet; the assembly has ${fleets.map((f) => f.fleet.name).join(', ')}`);
  }
  return found;
}

/** Runs the chosen scenarios (or the trace) under every configuration. */
export async function runSimulations(
  options: SimulateOptions,
  model: FleetModel = chooseFleet(readFleets(options.app), options.fleet),
): Promise<SimulationRow[]> {
  const assume = withAssumptions(DEFAULT_ASSUMPTIONS, options.assume);
  const scenarios: Scenario[] = options.trace
    ? [{ name: 'trace', description: options.trace, settings: [], jobs: () => readTrace(options.trace!) }]
    : SCENARIOS.filter((s) => !options.scenario || s.name === options.scenario);
  const rows: SimulationRow[] = [];
  for (const scenario of scenarios) {
    const jobs = scenario.jobs(new Random(options.seed));
    for (const run of configurations(model, [...scenario.settings, ...options.set])) {
      const result = await simulate(run, jobs, assume, options.seed + 1);
      rows.push({ scenario: scenario.name, fleet: model.fleet.name, ...result });
    }
  }
  return rows;
}

/** The rows as a text table. */
export function formatTable(rows: SimulationRow[]): string {
  const header = ['scenario', 'configuration', 'jobs', 'wait p50', 'p95', 'max', 'instance-h', 'excess-h', 'excess %', 'peak', 'killed', 'unstarted'];
  const body = rows.map((r) => [
    r.scenario, r.configuration, String(r.jobs), `${r.waitP50} s`, `${r.waitP95} s`, `${r.waitMax} s`, r.instanceHours.toFixed(2),
    r.excessInstanceHours.toFixed(2), r.instanceHours > 0 ? `${((100 * r.excessInstanceHours) / r.instanceHours).toFixed(1)}` : '0.0',
    String(r.peakInstances), String(r.jobsKilled), String(r.unstarted),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}
