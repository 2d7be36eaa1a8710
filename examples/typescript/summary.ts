/** Prints what the example stack holds, from its synthesized template. */

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
}

export function summarize(template: { Resources?: Record<string, Resource> }, outdir: string): string {
  const resources = Object.entries(template.Resources ?? {});
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const lines: string[] = [`Synthesized GitHubRunnerFleetExample into ${outdir}/`];

  for (const [id, group] of ofType('AWS::AutoScaling::AutoScalingGroup')) {
    const fleetTag = (group.Properties?.Tags ?? []).find((t: any) => t.Key === 'github-runner-fleet:fleet');
    const fleet = fleetTag?.Value ?? id;
    const templateId = group.Properties?.LaunchTemplate?.LaunchTemplateId?.Ref;
    const launchTemplate = resources.find(([lid]) => lid === templateId)?.[1];
    const data = launchTemplate?.Properties?.LaunchTemplateData ?? {};
    const warm = ofType('AWS::AutoScaling::WarmPool').find(([, w]) => w.Properties?.AutoScalingGroupName?.Ref === id);
    const hooks = ofType('AWS::AutoScaling::LifecycleHook').filter(([, h]) => h.Properties?.AutoScalingGroupName?.Ref === id);
    const policies = ofType('AWS::AutoScaling::ScalingPolicy').filter(([, p]) => p.Properties?.AutoScalingGroupName?.Ref === id);
    const gapAlarms = ofType('AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties?.MetricName === 'CapacityGap'
      && (a.Properties?.Dimensions ?? []).some((d: any) => d.Name === 'Fleet' && d.Value === fleet));
    lines.push(
      `Fleet ${fleet}: ${data.InstanceType ?? '?'}, capacity ${group.Properties?.MinSize}-${group.Properties?.MaxSize}, `
      + `IMDSv2 ${data.MetadataOptions?.HttpTokens ?? '?'}, root volume ${data.BlockDeviceMappings?.[0]?.Ebs?.VolumeSize ?? '?'} GiB encrypted`,
      `  warm pool: ${warm ? `${warm[1].Properties?.PoolState}, min ${warm[1].Properties?.MinSize ?? 0}, reuse on scale-in ${warm[1].Properties?.InstanceReusePolicy?.ReuseOnScaleIn ?? false}` : 'none'}`,
      `  lifecycle hooks: ${hooks.map(([, h]) => `${h.Properties?.LifecycleTransition} (${h.Properties?.HeartbeatTimeout}s, default ${h.Properties?.DefaultResult})`).join(', ')}`,
      `  scaling: ${policies.map(([, p]) => {
        const steps: Array<{ ScalingAdjustment: number }> = p.Properties?.StepAdjustments ?? [];
        const direction = steps.some((step) => step.ScalingAdjustment > 0) ? 'scale-out' : 'scale-in';
        return `${direction} ${p.Properties?.PolicyType} with ${steps.length} steps`;
      }).join(', ')}`,
      `  capacity-gap alarms: ${gapAlarms.map(([, a]) => {
        const direction = a.Properties?.ComparisonOperator === 'GreaterThanThreshold' ? 'scale-out' : 'scale-in';
        return `${direction} every ${a.Properties?.Period}s (${a.Properties?.EvaluationPeriods} period${a.Properties?.EvaluationPeriods === 1 ? '' : 's'})`;
      }).join(', ') || 'none'}`,
    );
  }
  const functions = ofType('AWS::Lambda::Function');
  const planTags = new Set(ofType('AWS::AutoScaling::AutoScalingGroup')
    .map(([, g]) => (g.Properties?.Tags ?? []).find((t: any) => t.Key === 'github-runner-fleet:control-plane')?.Value));
  lines.push(
    `Control planes: ${planTags.size} (one runner listing per minute for all the fleets of a GitHub connection)`,
    `Webhook: ${ofType('AWS::Lambda::Url').length + ofType('AWS::ApiGatewayV2::Route').length > 0
      ? `workflow_job endpoint, job table ${ofType('AWS::DynamoDB::Table').length}`
      : 'none (without a demand signal the controller doubles a saturated fleet)'}`,
    `Functions (${functions.length}): ${functions.map(([, f]) => `${f.Properties?.Runtime}`).filter((v, i, a) => a.indexOf(v) === i).join(', ')}`,
    `EventBridge rules: ${ofType('AWS::Events::Rule').length}, alarms: ${ofType('AWS::CloudWatch::Alarm').length}, `
    + `step policies: ${ofType('AWS::AutoScaling::ScalingPolicy').length}, dead-letter queues: ${ofType('AWS::SQS::Queue').length}`,
    `Secrets: ${ofType('AWS::SecretsManager::Secret').length} (GitHub credentials, webhook); one per runner instance is created at run time`,
  );
  return lines.join('\n');
}
