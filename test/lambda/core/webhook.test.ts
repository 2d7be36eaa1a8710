import fc from 'fast-check';
import {
  checkScope, dueForCheck, fleetOfRunner, jobsToReconcile, labelsOfFleet, parseDelivery, pastQueueLimit, preCheck, RECONCILE_AFTER_SECONDS, routeJob,
  secondsToStart, statusOfAction,
} from '../../../lambda/core/webhook';
import { fleetEntry, workflowJobPayload } from '../fixtures';

const request = (overrides: Partial<{ method: string; headers: Record<string, string>; body: string }> = {}) => ({
  method: overrides.method ?? 'POST',
  headers: overrides.headers ?? { 'x-hub-signature-256': 'sha256=abc' },
  body: overrides.body ?? '{}',
});

describe('preCheck', () => {
  test.each([
    [request({ method: 'GET' }), 405],
    [request({ body: 'x'.repeat(2049) }), 413],
    [request({ headers: {} }), 401],
    [request({ headers: { 'x-hub-signature-256': '' } }), 401],
  ])('%#: answers %s', (req, statusCode) => {
    const result = preCheck(req, 2048);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.answer.statusCode).toBe(statusCode);
  });

  test('a POST of allowed size with a signature goes on to verification', () => {
    expect(preCheck(request({ body: 'x'.repeat(2048) }), 2048)).toEqual({ ok: true, signature: 'sha256=abc' });
  });

  test('the size is counted in bytes, not characters', () => {
    expect(preCheck(request({ body: 'é'.repeat(1025) }), 2048).ok).toBe(false);
  });
});

describe('parseDelivery', () => {
  test('a queued job, with the fields scaling needs', () => {
    expect(parseDelivery('workflow_job', workflowJobPayload())).toEqual({
      kind: 'job',
      event: {
        action: 'queued',
        jobId: 29679449,
        labels: ['self-hosted', 'linux', 'x64'],
        repository: 'acme/app',
        createdAt: '2026-11-24T10:00:00Z',
        startedAt: undefined,
        runnerName: undefined,
        organization: 'acme',
        enterprise: undefined,
        installationId: 7890,
      },
    });
  });

  test('an in_progress job carries its start time and runner', () => {
    const parsed = parseDelivery('workflow_job', workflowJobPayload({ action: 'in_progress', startedAt: '2026-11-24T10:00:07Z', runnerName: 'linux-i-0abc12345678' }));
    expect(parsed.kind === 'job' && parsed.event).toEqual(expect.objectContaining({ startedAt: '2026-11-24T10:00:07Z', runnerName: 'linux-i-0abc12345678' }));
  });

  test.each([
    ['ping', '{}', 'ping', undefined],
    ['push', '{}', 'ignored', 202],
    [undefined, '{}', 'ignored', 202],
    ['workflow_job', workflowJobPayload({ action: 'requested' }), 'ignored', 202],
    ['workflow_job', 'not json', 'malformed', 400],
    ['workflow_job', '[]', 'ignored', 202],
    ['workflow_job', 'null', 'malformed', 400],
    ['workflow_job', JSON.stringify({ action: 'queued' }), 'malformed', 400],
    ['workflow_job', JSON.stringify({ ...JSON.parse(workflowJobPayload()), workflow_job: { ...JSON.parse(workflowJobPayload()).workflow_job, id: 'x' } }), 'malformed', 400],
    ['workflow_job', JSON.stringify({ ...JSON.parse(workflowJobPayload()), workflow_job: { ...JSON.parse(workflowJobPayload()).workflow_job, labels: 'linux' } }), 'malformed', 400],
    ['workflow_job', JSON.stringify({ ...JSON.parse(workflowJobPayload()), workflow_job: { ...JSON.parse(workflowJobPayload()).workflow_job, created_at: 'soon' } }), 'malformed', 400],
    ['workflow_job', JSON.stringify({ ...JSON.parse(workflowJobPayload()), repository: {} }), 'malformed', 400],
  ])('event %p with body %#: %s', (eventName, body, kind, statusCode) => {
    const parsed = parseDelivery(eventName, body);
    expect(parsed.kind).toBe(kind);
    if (statusCode !== undefined) {
      expect((parsed as { answer: { statusCode: number } }).answer.statusCode).toBe(statusCode);
    }
  });

  test('property: never throws, whatever the body', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
      expect(['job', 'ignored', 'malformed']).toContain(parseDelivery('workflow_job', body).kind);
    }));
  });
});

describe('routeJob', () => {
  const x64 = fleetEntry({ name: 'linux-x64', labels: ['linux', 'docker', 'fleet-linux-x64'], architecture: 'x64' });
  const arm = fleetEntry({ name: 'linux-arm64', labels: ['linux', 'fleet-linux-arm64'], architecture: 'arm64' });
  const large = fleetEntry({ name: 'large', labels: ['linux', 'docker', 'large', 'fleet-large'], architecture: 'x64' });
  const fleets = [large, x64, arm];

  test.each([
    [['self-hosted', 'linux', 'x64'], 'linux-x64'],
    [['self-hosted', 'Linux', 'X64'], 'linux-x64'],
    [['self-hosted', 'linux', 'ARM64'], 'linux-arm64'],
    [['linux', 'docker'], 'linux-x64'],
    [['self-hosted', 'large'], 'large'],
    [['fleet-large'], 'large'],
    [['self-hosted'], 'linux-arm64'],
  ])('%p goes to %s', (labels, fleet) => {
    const route = routeJob(labels, fleets);
    expect(route.kind === 'fleet' && route.fleet.name).toBe(fleet);
  });

  test.each([
    [['self-hosted', 'windows'], 'unroutable'],
    [['self-hosted', 'linux', 'gpu'], 'unroutable'],
    [['ubuntu-latest'], 'not-ours'],
    [[], 'not-ours'],
  ])('%p is %s', (labels, kind) => {
    expect(routeJob(labels, fleets).kind).toBe(kind);
  });

  test('tie-break: the fleet with the fewest labels, then the first declared', () => {
    const twin = fleetEntry({ name: 'twin', labels: ['linux', 'docker', 'fleet-twin'] });
    const route = routeJob(['linux'], [large, x64, twin]);
    expect(route.kind === 'fleet' && route.fleet.name).toBe('linux-x64');
  });

  test('the default labels follow the fleet\'s OS and architecture', () => {
    expect([...labelsOfFleet(arm)].sort()).toEqual(['arm64', 'fleet-linux-arm64', 'linux', 'self-hosted']);
  });

  test('property: the chosen fleet has every label of the job, and no fleet with fewer labels could run it', () => {
    const label = fc.constantFrom('self-hosted', 'linux', 'LINUX', 'x64', 'arm64', 'docker', 'large', 'gpu', 'fleet-large');
    fc.assert(fc.property(fc.array(label, { maxLength: 5 }), (labels) => {
      const route = routeJob(labels, fleets);
      const able = fleets.filter((f) => labels.every((l) => labelsOfFleet(f).has(l.toLowerCase())));
      if (route.kind === 'fleet') {
        expect(able).toContain(route.fleet);
        expect(able.every((f) => labelsOfFleet(f).size >= labelsOfFleet(route.fleet).size)).toBe(true);
      } else {
        expect(labels.length === 0 || able.length === 0).toBe(true);
      }
    }));
  });
});

describe('small decisions', () => {
  test.each([['queued', 'queued'], ['waiting', 'queued'], ['in_progress', 'in_progress'], ['completed', 'completed']] as const)(
    '%s records %s', (action, status) => expect(statusOfAction(action)).toBe(status));

  test('the fleet of a runner comes from its name, never from a prefix of another fleet', () => {
    const fleets = [fleetEntry({ name: 'linux' }), fleetEntry({ name: 'linux-large' })];
    expect(fleetOfRunner('linux-large-i-0123456789abcdef0', fleets)?.name).toBe('linux-large');
    expect(fleetOfRunner('linux-i-0123456789abcdef0', fleets)?.name).toBe('linux');
    expect(fleetOfRunner('someone-elses-runner', fleets)).toBeUndefined();
    expect(fleetOfRunner(undefined, fleets)).toBeUndefined();
  });

  test('seconds to start', () => {
    const event = { action: 'in_progress' as const, jobId: 1, labels: [], repository: 'a/b', createdAt: '2026-11-24T10:00:00Z' };
    expect(secondsToStart({ ...event, startedAt: '2026-11-24T10:00:12.5Z' })).toBe(12.5);
    expect(secondsToStart(event)).toBeUndefined();
    expect(secondsToStart({ ...event, startedAt: '2026-11-24T09:59:00Z' })).toBeUndefined();
  });

  test('reconciliation takes the oldest due jobs (age 2, 4, 8, 16... minutes), at most the limit', () => {
    const now = new Date('2026-11-24T12:00:00Z');
    const at = (secondsAgo: number) => ({ queuedAt: new Date(now.getTime() - secondsAgo * 1000).toISOString(), id: secondsAgo });
    const jobs = [at(30), at(RECONCILE_AFTER_SECONDS), at(180), at(250), at(500), at(960), at(1000), at(3900)];
    expect(jobsToReconcile(jobs, now, 10).map((j) => j.id)).toEqual([1000, 960, 500, 250, RECONCILE_AFTER_SECONDS]);
    expect(jobsToReconcile(jobs, now, 2).map((j) => j.id)).toEqual([1000, 960]);
  });

  test('property: a job waiting a day is checked in about one tick per doubling of its age', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 59 }), (offset) => {
      // The metric function ticks once a minute, at some second of the minute.
      const checks = Array.from({ length: 24 * 60 }, (_, minute) => minute * 60 + offset).filter(dueForCheck).length;
      expect(checks).toBe(10);
    }));
    expect(dueForCheck(RECONCILE_AFTER_SECONDS - 1)).toBe(false);
  });
});

describe('the scope of a delivery', () => {
  test('parseDelivery reads organization.login, enterprise.slug and installation.id when present', () => {
    const parsed = parseDelivery('workflow_job', workflowJobPayload({ organization: 'acme', enterprise: 'acme-corp', installationId: 42 }));
    expect(parsed).toMatchObject({ kind: 'job', event: { organization: 'acme', enterprise: 'acme-corp', installationId: 42 } });
    const bare = parseDelivery('workflow_job', workflowJobPayload({ organization: null, installationId: null }));
    expect(bare).toMatchObject({ kind: 'job', event: { organization: undefined, enterprise: undefined, installationId: undefined } });
  });

  const org = { scope: 'organization' as const, owner: 'acme' };
  const repo = { scope: 'repository' as const, owner: 'acme', repo: 'app' };
  const enterprise = { scope: 'enterprise' as const, owner: 'acme-corp' };
  test.each([
    // connection, delivery, known installation, ours
    [org, { repository: 'acme/app', organization: 'acme' }, undefined, true],
    [org, { repository: 'ACME/app', organization: 'Acme' }, undefined, true],
    [org, { repository: 'acme/app' }, undefined, true],
    [org, { repository: 'globex/app', organization: 'globex' }, undefined, false],
    [org, { repository: 'globex/app' }, undefined, false],
    [org, { repository: 'acme/app', organization: 'globex' }, undefined, false],
    [org, { repository: 'acme/app', organization: 'acme', installationId: 7 }, 7, true],
    [org, { repository: 'acme/app', organization: 'acme', installationId: 8 }, 7, false],
    [org, { repository: 'acme/app', organization: 'acme' }, 7, true],
    [org, { repository: 'acme/app', organization: 'acme', installationId: 8 }, undefined, true],
    [repo, { repository: 'acme/app', organization: 'acme' }, undefined, true],
    [repo, { repository: 'acme/App' }, undefined, true],
    [repo, { repository: 'acme/application', organization: 'acme' }, undefined, false],
    [repo, { repository: 'acme/website', organization: 'acme' }, undefined, false],
    [enterprise, { repository: 'any/app', organization: 'any', enterprise: 'acme-corp' }, undefined, true],
    [enterprise, { repository: 'any/app', enterprise: 'ACME-corp' }, undefined, true],
    [enterprise, { repository: 'any/app', enterprise: 'initech' }, undefined, false],
    [enterprise, { repository: 'acme-corp/app', organization: 'acme-corp' }, undefined, false],
  ])('%j, delivery %j, installation %s: ours %s', (connection, event, installationId, ours) => {
    const check = checkScope(event, connection, installationId);
    expect(check.ours).toBe(ours);
    if (!check.ours) {
      expect(check.reason).toMatch(/is not/);
    }
  });

  test('property: a delivery whose repository owner differs from the organization is never ours', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), (owner, other) => {
      fc.pre(owner !== other);
      expect(checkScope({ repository: `${other}/app`, organization: other }, { scope: 'organization', owner }).ours).toBe(false);
      expect(checkScope({ repository: `${other}/app` }, { scope: 'organization', owner }).ours).toBe(false);
    }));
  });
});

describe('pastQueueLimit', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  test.each([
    ['2026-11-25T11:59:00Z', false],
    ['2026-11-24T12:00:00Z', false],
    ['2026-11-24T11:45:01Z', false],
    ['2026-11-24T11:45:00Z', true],
    ['2026-11-20T00:00:00Z', true],
  ])('queued at %s: %s', (queuedAt, past) => {
    expect(pastQueueLimit(queuedAt, now)).toBe(past);
  });
});
