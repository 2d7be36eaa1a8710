import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { DIMENSION_FLEET, METRIC_NAMESPACE } from '../contract';

/** Builds one of the fleet's metrics with the library's namespace and dimension. */
export function fleetMetric(metricName: string, fleetName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { [DIMENSION_FLEET]: fleetName },
    period: Duration.minutes(1),
    statistic: cloudwatch.Stats.AVERAGE,
    ...props,
  });
}
