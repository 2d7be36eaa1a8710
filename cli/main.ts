/**
 * `cdk-github-runner-fleet`: the package's command line. `simulate` runs the scaling simulator on a
 * synthesized template.
 */
import { assumptionHelp, formatTable, parseSimulateArgs, runSimulations, SIMULATE_USAGE } from './simulate/command';

const USAGE = `Usage: cdk-github-runner-fleet <command> [options]

Commands:
  simulate   the scaling simulator: time to runner and cost of a synthesized fleet (see simulate --help)
`;

/** Runs the command line; resolves the exit code. Output goes through `out` and `err`. */
export async function main(args: string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'simulate') {
    err(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return 2;
  }
  try {
    const options = parseSimulateArgs(rest);
    if (options === 'help') {
      out(`${SIMULATE_USAGE}\nAssumptions (override with --assume):\n${assumptionHelp()}\n`);
      return 0;
    }
    const rows = await runSimulations(options);
    out(options.json ? JSON.stringify(rows, undefined, 2) : formatTable(rows));
    return 0;
  } catch (error) {
    err(`simulate: ${(error as Error).message}`);
    return 2;
  }
}

/** Runs the command line on this process's arguments and sets its exit code. */
export function run(): void {
  main(process.argv.slice(2), (t) => process.stdout.write(`${t}\n`), (t) => process.stderr.write(`${t}\n`))
    .then((code) => { process.exitCode = code; }, (error) => {
      process.stderr.write(`${(error as Error).stack ?? error}\n`);
      process.exitCode = 1;
    });
}

if (require.main === module) {
  run();
}
