/**
 * `npm run example`: synthesizes the example stack into cdk.out/ (no AWS credentials, no GitHub account
 * needed), checks it with cdk-nag's AwsSolutions pack, and prints a summary.
 */
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ExampleRunnersStack } from './stack';
import { summarize } from './summary';

const app = new App({ outdir: process.env.CDK_OUTDIR ?? 'cdk.out' });
const stack = new ExampleRunnersStack(app, 'GitHubRunnerFleetExample', {
  env: { account: '123456789012', region: 'us-east-1' },
});
const nag = new AwsSolutionsChecks(app);
const report = nag.validateScope(stack);
const assembly = app.synth();
console.log(summarize(assembly.getStackByName(stack.stackName).template, assembly.directory));
if (!report.success) {
  for (const v of report.violations) {
    console.error(`cdk-nag ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
  }
  process.exit(1);
}
console.log('cdk-nag AwsSolutions: no unacknowledged findings');
