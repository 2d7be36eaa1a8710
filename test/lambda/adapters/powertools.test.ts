import { createLogger, createMetrics, REDACTED, redactAttributes } from '../../../lambda/adapters/powertools';
import { DIMENSION_FLEET, METRIC_NAMESPACE, MetricNames } from '../../../src/contract';

/** What Powertools writes to stdout and stderr (EMF and JSON log lines) while `fn` runs, parsed. */
async function stdoutLines(fn: () => unknown): Promise<Array<Record<string, any>>> {
  const chunks: string[] = [];
  const capture = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  try {
    await fn();
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
  return chunks.join('').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

describe('metrics (EMF)', () => {
  test('one line per fleet, each with the single dimension Fleet, the library namespace and unit Count', async () => {
    const metrics = createMetrics();

    const lines = await stdoutLines(() => {
      metrics.add(MetricNames.IDLE_RUNNERS, 'linux', 3);
      metrics.add(MetricNames.BUSY_RUNNERS, 'linux', 2);
      metrics.add(MetricNames.IDLE_RUNNERS, 'arm', 0);
      return metrics.flush();
    });

    expect(lines).toHaveLength(2);
    const [linux, arm] = lines;
    expect(linux._aws.CloudWatchMetrics).toEqual([{
      Namespace: METRIC_NAMESPACE,
      Dimensions: [[DIMENSION_FLEET]],
      Metrics: [{ Name: 'IdleRunners', Unit: 'Count' }, { Name: 'BusyRunners', Unit: 'Count' }],
    }]);
    expect(linux).toMatchObject({ Fleet: 'linux', IdleRunners: 3, BusyRunners: 2 });
    expect(linux.service).toBeUndefined();
    expect(arm).toMatchObject({ Fleet: 'arm', IdleRunners: 0 });
    expect(arm._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Fleet']]);
  });

  test('a counter added twice before a flush goes out as two values (summed by CloudWatch)', async () => {
    const metrics = createMetrics();
    const lines = await stdoutLines(() => {
      metrics.add(MetricNames.REGISTRATIONS, 'linux', 1);
      metrics.add(MetricNames.REGISTRATIONS, 'linux', 1);
      return metrics.flush();
    });
    expect(lines).toHaveLength(1);
    expect(lines[0].Registrations).toEqual([1, 1]);
  });

  test('nothing added, nothing written (no "no metrics" warning); each flush sends only what is new', async () => {
    const metrics = createMetrics();
    expect(await stdoutLines(() => metrics.flush())).toEqual([]);

    await stdoutLines(() => {
      metrics.add(MetricNames.REGISTRATIONS, 'linux', 1);
      return metrics.flush();
    });
    expect(await stdoutLines(() => metrics.flush())).toEqual([]);
  });
});

describe('logger', () => {
  test('JSON lines with level, message, service and the attributes', async () => {
    const logger = createLogger();
    const [line] = await stdoutLines(() => logger.warn('Runner registered', { instanceId: 'i-1', fleet: 'linux' }));
    expect(line).toMatchObject({ level: 'WARN', message: 'Runner registered', instanceId: 'i-1', fleet: 'linux', service: 'github-runner-fleet' });
  });

  test('the invocation context adds the request id and the cold-start flag', async () => {
    const logger = createLogger();
    logger.powertools.addContext({
      awsRequestId: 'req-1',
      functionName: 'registration',
      functionVersion: '$LATEST',
      memoryLimitInMB: '256',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:registration',
    } as never);
    const [line] = await stdoutLines(() => logger.info('hello'));
    expect(line).toMatchObject({ function_request_id: 'req-1', function_name: 'registration', cold_start: expect.any(Boolean) });
  });

  test('secrets never reach a log line: by attribute name and by shape', async () => {
    const logger = createLogger();
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----';
    const lines = await stdoutLines(() => {
      logger.info('token ghs_abcdefghijklmnopqrstuvwxyz0123456789 used', {
        jitConfig: 'ZW5jb2RlZC1qaXQ=',
        nested: { registrationToken: 'AABF3JGZDX3P5PMEXLND6TS6FCWO6', list: [{ privateKey: pem }] },
        error: `request failed with github_pat_11ABCDEFG0123456789_abcdefghijklmnop and ${pem}`,
        fleet: 'linux',
      });
    });
    const text = JSON.stringify(lines);
    for (const secret of ['ghs_abcdefghij', 'ZW5jb2RlZC1qaXQ=', 'AABF3JGZDX3P5PMEXLND6TS6FCWO6', 'MIIEowIBAAKCAQEA', 'github_pat_11ABCDEFG']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ message: `token ${REDACTED} used`, jitConfig: REDACTED, fleet: 'linux' });
    expect(lines[0].nested).toEqual({ registrationToken: REDACTED, list: [{ privateKey: REDACTED }] });
  });

  test('redaction keeps everything else, turns errors into name and message, and stops at depth', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10; i++) deep = { deep };
    const redacted = redactAttributes({ count: 3, when: new Date(0), error: new TypeError('bad ghp_abcdefghijklmnopqrstuv'), deep, token: undefined });
    expect(redacted).toMatchObject({ count: 3, when: new Date(0), error: { name: 'TypeError', message: `bad ${REDACTED}` }, token: undefined });
    expect(JSON.stringify(redacted)).toContain('[too deep]');
    expect(redactAttributes(undefined)).toEqual({});
  });
});
