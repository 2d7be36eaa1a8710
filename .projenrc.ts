import { awscdk, DependencyType, javascript, TaskShell } from 'projen';

/** The aws-cdk-lib jsii compiles and the tests run against: cdk-nag 3.x (used in our tests) needs 2.257.0. */
const CDK_VERSION = '2.257.0';
/**
 * The lowest aws-cdk-lib a consumer may use (the peer range's lower bound), which scripts/consumer-path.sh
 * tests: the library's sources type-check against it, and the getting-started app synthesizes with it into
 * cfn-lint-clean templates. 2.177.0 and older lack the DynamoDB table's `pointInTimeRecoverySpecification`
 * (the webhook's job table would silently lose point-in-time recovery).
 */
const CDK_PEER_MINIMUM = '2.178.0';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-github-runner-fleet',
  description:
    'Self-hosted GitHub Actions runners on an EC2 Auto Scaling group with a warm pool, lifecycle hooks, '
    + 'least-privilege registration and step scaling on idle runners: one AWS CDK construct.',
  author: 'cdk-github-runner-fleet',
  authorAddress: 'https://github.com/cdk-github-runner-fleet',
  authorOrganization: true,
  repositoryUrl: 'https://github.com/cdk-github-runner-fleet/cdk-github-runner-fleet.git',
  homepage: 'https://cdk-github-runner-fleet.github.io/cdk-github-runner-fleet/',
  bugsUrl: 'https://github.com/cdk-github-runner-fleet/cdk-github-runner-fleet/issues',
  keywords: ['cdk', 'awscdk', 'aws-cdk', 'github-actions', 'self-hosted-runners', 'autoscaling', 'warm-pool'],
  stability: 'experimental',
  cdkVersion: CDK_VERSION,
  constructsVersion: '10.5.1',
  // The devDependencies aws-cdk-lib and constructs are set below: the peer range of aws-cdk-lib starts lower.
  peerDependencyOptions: { pinnedDevDependency: false },
  defaultReleaseBranch: 'main',
  jsiiVersion: '~6.0.0',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // Node 22, like the functions' runtime: the AWS SDK for JavaScript requires it for its releases after January 2027.
  minNodeVersion: '22.0.0',

  publishToPypi: { distName: 'cdk-github-runner-fleet', module: 'cdk_github_runner_fleet' },
  publishToMaven: {
    javaPackage: 'io.github.cdkgithubrunnerfleet',
    mavenGroupId: 'io.github.cdk-github-runner-fleet',
    mavenArtifactId: 'cdk-github-runner-fleet',
  },
  publishToNuget: { dotNetNamespace: 'CdkGitHubRunnerFleet', packageId: 'CdkGitHubRunnerFleet' },
  publishToGo: { moduleName: 'github.com/cdk-github-runner-fleet/cdk-github-runner-fleet-go' },

  // Lambda sources live in lambda/ (outside jsii's src/), registered explicitly below.
  lambdaAutoDiscover: false,
  integrationTestAutoDiscover: true,
  experimentalIntegRunner: true,

  devDeps: [
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner@^2.197.10',
    'cdk-nag@^3.0.2',
    'fast-check@^4.10.2',
    'aws-sdk-client-mock@^4.1.0',
    '@aws-sdk/client-auto-scaling@^3',
    '@aws-sdk/client-secrets-manager@^3',
    '@aws-sdk/client-dynamodb@^3',
    '@aws-sdk/client-ssm@^3',
    '@octokit/webhooks-methods@^6.0.0',
    '@aws-lambda-powertools/logger@^2.36.0',
    '@aws-lambda-powertools/metrics@^2.36.0',
    '@octokit/core@^7.0.8',
    '@octokit/plugin-paginate-rest@^14.0.0',
    '@octokit/plugin-request-log@^6.0.0',
    '@octokit/auth-app@^8.3.1',
    '@octokit/plugin-retry@^8.1.1',
    '@octokit/plugin-throttling@^11.0.5',
    '@types/aws-lambda@^8',
    'esbuild@^0.28.2',
    'vitepress@^1.6.4',
    'vue@^3.5.0',
    'playwright-core@^1.65.1',
    // The toolchain's Node.js: npm scripts (`npm test`, `npm run example`) find node_modules/.bin/node first.
    'node@^22.23.3',
  ],

  jestOptions: {
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // @octokit/* and friends are ESM-only: let ts-jest turn them into CommonJS.
      transformIgnorePatterns: [
        '/node_modules/(?!(@octokit|universal-user-agent|before-after-hook|universal-github-app-jwt|toad-cache|content-type|fast-content-type-parse|json-with-bigint|bottleneck)/)',
      ],
      testTimeout: 30_000,
      // @octokit/webhooks-methods publishes only `import` entry points, which jest's resolver cannot follow.
      moduleNameMapper: { '^@octokit/webhooks-methods$': '<rootDir>/node_modules/@octokit/webhooks-methods/dist-node/index.js' },
    },
  },
  tsconfigDev: {
    // ts-jest also transforms the ESM-only Octokit packages (plain .js).
    compilerOptions: { allowJs: true },
  },

  gitignore: ['/.jsii.tabl.json', '/cdk.out/', '/dist/', '/.tmp/', 'test/*.snapshot/**/asset.*/', '/docs/.vitepress/cache/', '/docs/.vitepress/dist/'],
});

// Consumers may use any aws-cdk-lib from CDK_PEER_MINIMUM; jsii compiles and the tests run against CDK_VERSION.
project.deps.addDependency(`aws-cdk-lib@^${CDK_PEER_MINIMUM}`, DependencyType.PEER);
project.deps.addDependency(`aws-cdk-lib@${CDK_VERSION}`, DependencyType.BUILD);
project.deps.addDependency('constructs@10.5.1', DependencyType.BUILD);
// projen's integ-runner support adds both as `latest` (devenv dependencies, which win over devDeps in
// package.json): drop those, so that the pinned devDeps above are what package.json says.
project.deps.removeDependency('@aws-cdk/integ-runner', DependencyType.DEVENV);
project.deps.removeDependency('@aws-cdk/integ-tests-alpha', DependencyType.DEVENV);

for (const p of ['/examples/', '/docs/', '/.ci/', '/lambda/', '/bench/', '/scripts/', '/cli/']) project.addPackageIgnore(p);
// The tarball ships what consumers use (lib/, assets/, bin/, .jsii, README.md, LICENSE, API.md):
// scripts/consumer-path.sh fails on anything else. Rosetta's fixture and tablet, the type-check config and
// local build output stay out.
for (const p of ['/rosetta/', '/tsconfig.typecheck.json', '/.jsii.tabl.json', '/cdk.out/', '/.tmp/']) project.addPackageIgnore(p);

project.tasks.addEnvironment('NPM_CONFIG_LOGLEVEL', 'error');

// ts-jest must also transform plain .js: the ESM-only Octokit packages.
const jestTransform = (project.jest as any).config.transform;
jestTransform['^.+\\.[tj]sx?$'] = jestTransform['^.+\\.[t]sx?$'];
delete jestTransform['^.+\\.[t]sx?$'];

// Lint the runtime and the examples too, and hold the import directions of ARCHITECTURE.md.
project.eslint?.addLintPattern('lambda');
project.eslint?.addLintPattern('examples');
project.eslint?.addOverride({
  files: ['lambda/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ group: ['**/src/*', '!**/src/contract', '!**/src/contract/*'], message: 'lambda/ may import only src/contract from src/.' }],
    }],
  },
});
project.eslint?.addOverride({
  files: ['lambda/core/**/*.ts', 'lambda/handlers/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: ['@aws-sdk/*', '@octokit/*', '@aws-lambda-powertools/*'], message: 'Only lambda/adapters may import SDKs: depend on ports.ts.' },
        { group: ['**/adapters/*', '**/src/*', '!**/src/contract', '!**/src/contract/*'], message: 'core/ and handlers/ depend on ports and the contract only.' },
      ],
    }],
  },
});
project.eslint?.addOverride({
  // The runtime's packages are bundled into assets/ by esbuild: devDependencies are right for them.
  files: ['examples/**/*.ts', 'lambda/**/*.ts'],
  rules: { 'import/no-extraneous-dependencies': ['error', { devDependencies: true }] },
});
project.eslint?.addOverride({
  files: ['src/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: ['**/lambda/*'], message: 'src/ never imports lambda/.' }] }],
  },
});

// The runtime functions. Their bundles land in assets/lambda/<name>.lambda/index.js.
// The bundled packages' licence notices go into index.js.LEGAL.txt beside each bundle (shipped with it),
// not into the code every cold start parses.
const bundlingOptions = { minify: true, sourcemap: false, externals: ['@aws-sdk/*'], esbuildArgs: { '--legal-comments': 'external' } } as javascript.BundlingOptions;
for (const name of ['registration', 'deregistration', 'idle-metric', 'webhook', 'instance-agent']) {
  new awscdk.LambdaFunction(project, {
    entrypoint: `lambda/${name}.lambda.ts`,
    constructFile: `src/generated/${name}-function.ts`,
    constructName: `${name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('')}Function`,
    cdkDeps: project.cdkDeps,
    runtime: awscdk.LambdaRuntime.NODEJS_22_X,
    awsSdkConnectionReuse: false,
    bundlingOptions,
  });
}

// The instance agent serves the instance programs of its own release: a copy of assets/instance beside
// its bundle (src/contract/instance-programs.ts), which each fleet's user data pins by SHA-256.
project.tasks.tryFind('bundle:lambda/instance-agent.lambda')!.exec(
  'rm -rf assets/lambda/instance-agent.lambda/programs && cp -R assets/instance assets/lambda/instance-agent.lambda/programs');

// The command line (`npx cdk-github-runner-fleet simulate`): the scaling simulator runs the runtime's real
// handlers, so it is bundled like them, into assets/cli/main/index.js, and started by bin/.
project.bundler.addBundle('cli/main.ts', { platform: 'node', target: 'node22', sourcemap: false });
project.eslint?.addLintPattern('cli');
project.eslint?.addOverride({
  files: ['cli/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: ['@aws-sdk/*', '@octokit/*', '@aws-lambda-powertools/*'], message: 'The simulator never calls AWS or GitHub: use the handlers with in-memory ports.' },
        { group: ['**/src/*', '!**/src/contract', '!**/src/contract/*'], message: 'cli/ may import only src/contract from src/.' },
      ],
    }],
  },
});

// lambda/ is type-checked by its own tsconfig (esbuild does not type-check).
project.preCompileTask.exec('tsc -p lambda/tsconfig.json');
// Jest transpiles without type-checking: the tests, examples and runtime are type-checked together first.
project.testTask.prependExec('tsc -p tsconfig.typecheck.json');

// The example stack: `npm run example` synthesizes it into cdk.out/ and prints a summary.
const example = project.addTask('example', {
  description: 'Synthesize the example stack into cdk.out/ (no AWS credentials needed) and print a summary',
});
example.spawn(project.tasks.tryFind('bundle')!);
example.exec('ts-node --transpile-only -P examples/tsconfig.json examples/typescript/app.ts');

// The scaling simulator on the example stack: the figures of docs/guide/simulator.md.
const simulateTask = project.addTask('simulate', {
  description: 'Synthesize the example stack and run the scaling simulator on it (every scenario, three configurations)',
});
simulateTask.spawn(example);
simulateTask.exec('node bin/cdk-github-runner-fleet simulate --app cdk.out');

// Offline multi-language bindings: generate and syntax-check what can be checked here.
const codegen = project.addTask('codegen', {
  description: 'Generate Python, Java, .NET and Go bindings offline and syntax-check them',
});
codegen.exec('rm -rf dist/codegen && jsii-pacmak --code-only --targets python java dotnet go -o dist/codegen');
codegen.exec('node scripts/check-bindings.js');
// The Python example, and every README/docs snippet translated to Python by jsii-rosetta, must match the
// generated bindings (names, methods, keyword arguments).
codegen.exec('bash scripts/check-python.sh');

const rosetta = project.addTask('rosetta', {
  description: 'Compile every TypeScript example in README.md and docs/ with jsii-rosetta --strict',
});
rosetta.exec('jsii-rosetta extract --strict --compile --fail');
// jsii-rosetta compiles the assembly's snippets (README.md, doc comments); this covers docs/ too.
rosetta.exec('node scripts/check-doc-snippets.js');

// Benchmark (not a test): GitHub REST requests per minute of one control plane, against the fake GitHub
// server on loopback over a simulated hour. Figures recorded in docs/guide/benchmarks.md.
project.addTask('bench', {
  description: 'Benchmark the GitHub REST requests per minute of one control plane (1/5/20 fleets, 100/2,000 runners)',
  exec: 'ts-node --transpile-only -P bench/tsconfig.json bench/github-requests.ts',
});
// Benchmark (not a test): size and cold initialisation of the five function bundles, next to the figures
// of bench/bundles-baseline.json. Figures recorded in docs/guide/benchmarks.md.
const benchBundles = project.addTask('bench:bundles', {
  description: 'Benchmark the function bundles: size and cold initialisation (fresh node processes), against the baseline',
});
benchBundles.spawn(project.tasks.tryFind('bundle')!);
benchBundles.exec('ts-node --transpile-only -P bench/tsconfig.json bench/bundles.ts');
project.eslint?.addLintPattern('bench');

// Bundles are build output; the committed images next to them (the architecture diagram) are not.
project.gitignore.removePatterns('/assets/');
project.gitignore.exclude('/assets/lambda/', '/assets/cli/');

// The documentation site (VitePress) and its check in headless Chromium.
const docsSite = project.addTask('docs', {
  description: 'Build the documentation site into docs/.vitepress/dist',
  exec: 'vitepress build docs',
});
const siteCheck = project.addTask('site-check', {
  description: 'Check the built site in headless Chromium: pages, links, copy buttons, search, screenshots',
  exec: 'node scripts/check-site.mjs',
});

// The whole verification, from a fresh clone: `npm test` runs it.
const verify = project.addTask('verify', {
  description: 'Everything: bundle, type-check, jsii compile, unit tests, lint, integ snapshots, bindings, examples',
  shell: TaskShell.bash(),
});
verify.exec('bash scripts/ensure-tools.sh');
// The whole toolchain runs on Node 22 (the devDependency `node`, first on the PATH of npm scripts).
verify.exec('node scripts/check-node.js');
verify.spawn(project.tasks.tryFind('default')!);
verify.spawn(project.preCompileTask);
verify.spawn(project.compileTask);
verify.spawn(project.postCompileTask);
verify.spawn(project.testTask);
verify.spawn(rosetta);
verify.spawn(docsSite);
verify.spawn(siteCheck);
verify.spawn(codegen);
verify.spawn(simulateTask);
// The newcomer's path: the packed library in fresh CDK apps (newest and oldest aws-cdk-lib), the getting
// started page's app synthesized verbatim, and cfn-lint on every template (the apps', cdk.out/, the snapshots).
verify.exec('bash scripts/consumer-path.sh');
project.package.setScript('test', 'npx projen verify');
project.package.setScript('example', 'npx projen example');
project.package.setScript('simulate', 'npx projen simulate');

project.synth();
