import { createLogger, createMetrics } from '../../../lambda/adapters/powertools';

/** Captures what Powertools writes to stdout (EMF and JSON log lines). */
function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter((l) => l.trim() !== ''));
    return true;
  }) as any);
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe('Powertools adapters', () => {
  test('each metric goes out as EMF with exactly one dimension, Fleet, in the library namespace', () => {
    const metrics = createMetrics();
    const lines = captureStdout(() => {
      metrics.add('IdleRunners', 'linux', 3);
      metrics.add('IdleRunners', 'arm', 0);
      void metrics.flush();
    });
    const emf = lines.map((l) => JSON.parse(l)).filter((l) => l._aws);
    expect(emf).toHaveLength(2);
    for (const [i, fleet, value] of [[0, 'linux', 3], [1, 'arm', 0]] as const) {
      expect(emf[i]._aws.CloudWatchMetrics).toEqual([{
        Namespace: 'GitHubRunnerFleet',
        Dimensions: [['Fleet']],
        Metrics: [{ Name: 'IdleRunners', Unit: 'Count' }],
      }]);
      expect(emf[i].Fleet).toBe(fleet);
      expect(emf[i].IdleRunners).toBe(value);
    }
  });

  test('logs are JSON lines with the message and attributes', () => {
    const logger = createLogger();
    const lines = captureStdout(() => logger.info('Runner registered', { instanceId: 'i-1', fleet: 'linux' }));
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ level: 'INFO', message: 'Runner registered', instanceId: 'i-1', fleet: 'linux', service: 'github-runner-fleet' });
  });
});
