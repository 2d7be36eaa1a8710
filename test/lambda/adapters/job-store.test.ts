import {
  AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  ProvisionedThroughputExceededException,
  QueryCommand,
  QueryCommandInput,
  UpdateItemCommand,
  UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { createDynamoDbClient, createJobStore, JobStoreError, JobTableKeyPrefix } from '../../../lambda/adapters/job-store';
import type { JobRecord, JobStatus } from '../../../lambda/ports';
import { JOB_TABLE_QUEUED_INDEX, JobTableSchema } from '../../../src/contract/job-table';

const ddbMock = mockClient(DynamoDBClient);
beforeEach(() => ddbMock.reset());

const TABLE = 'runner-fleet-jobs';
const store = () => createJobStore(new DynamoDBClient({ region: 'eu-west-1' }), TABLE);

/** 2026-11-24T12:00:00Z, and its epoch seconds as the TTL attribute holds them. */
const EXPIRES = new Date('2026-11-24T12:00:00.750Z');
const EXPIRES_SECONDS = '1795521600';

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

function throttled(): ProvisionedThroughputExceededException {
  return new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: {} });
}

function job(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: 31415926535,
    fleet: 'linux',
    status: 'queued',
    repository: 'octo-org/app',
    queuedAt: '2026-11-24T10:00:00Z',
    updatedAt: '2026-11-24T10:00:01Z',
    ...overrides,
  };
}

function jobItem(j: JobRecord): Record<string, AttributeValue> {
  return {
    pk: { S: `job#${j.jobId}` },
    jobId: { N: String(j.jobId) },
    fleet: { S: j.fleet },
    status: { S: j.status },
    statusRank: { N: String({ queued: 1, in_progress: 2, completed: 3 }[j.status]) },
    repository: { S: j.repository },
    queuedAt: { S: j.queuedAt },
    updatedAt: { S: j.updatedAt },
    expiresAt: { N: EXPIRES_SECONDS },
    ...(j.status === 'queued' ? { queuedFleet: { S: j.fleet } } : {}),
  };
}

const SET_ALL = 'SET #jobId = :jobId, #fleet = :fleet, #status = :status, #statusRank = :rank, #repository = :repository, '
  + '#queuedAt = :queuedAt, #updatedAt = :updatedAt, #expiresAt = :expiresAt';
const NAMES = {
  '#jobId': 'jobId',
  '#fleet': 'fleet',
  '#status': 'status',
  '#statusRank': 'statusRank',
  '#repository': 'repository',
  '#queuedAt': 'queuedAt',
  '#updatedAt': 'updatedAt',
  '#expiresAt': 'expiresAt',
  '#queuedFleet': 'queuedFleet',
};

function values(j: JobRecord, rank: number) {
  return {
    ':jobId': { N: String(j.jobId) },
    ':fleet': { S: j.fleet },
    ':status': { S: j.status },
    ':rank': { N: String(rank) },
    ':repository': { S: j.repository },
    ':queuedAt': { S: j.queuedAt },
    ':updatedAt': { S: j.updatedAt },
    ':expiresAt': { N: EXPIRES_SECONDS },
  };
}

describe('the shared table contract', () => {
  test('names the construct creates and the adapter uses', () => {
    expect(JOB_TABLE_QUEUED_INDEX).toBe('QueuedByFleet');
    expect(JobTableSchema).toEqual({
      partitionKey: 'pk',
      timeToLiveAttribute: 'expiresAt',
      queuedIndex: { indexName: 'QueuedByFleet', partitionKey: 'queuedFleet', sortKey: 'queuedAt' },
    });
    expect(JobTableKeyPrefix).toEqual({ DELIVERY: 'delivery#', JOB: 'job#' });
  });
});

describe('claimDelivery', () => {
  test('puts the delivery id only if it is new, with the TTL in epoch seconds', async () => {
    ddbMock.on(PutItemCommand).resolves({});

    expect(await store().claimDelivery('72d3162e-cc78-11e3-81ab-4c9367dc0958', EXPIRES)).toBe(true);

    expect(ddbMock.commandCalls(PutItemCommand)[0].args[0].input).toEqual({
      TableName: TABLE,
      Item: { pk: { S: 'delivery#72d3162e-cc78-11e3-81ab-4c9367dc0958' }, expiresAt: { N: EXPIRES_SECONDS } },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  test('a delivery seen before (the condition fails) resolves false', async () => {
    ddbMock.on(PutItemCommand).resolvesOnce({}).rejectsOnce(conditionFailed());

    expect(await store().claimDelivery('d-1', EXPIRES)).toBe(true);
    expect(await store().claimDelivery('d-1', EXPIRES)).toBe(false);
  });

  test('other failures propagate, naming the operation and keeping the AWS error as cause', async () => {
    const error = throttled();
    ddbMock.on(PutItemCommand).rejects(error);

    const failure = await store().claimDelivery('d-1', EXPIRES).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(JobStoreError);
    expect((failure as JobStoreError).message).toBe(
      'job store claimDelivery failed: ProvisionedThroughputExceededException: Rate of requests exceeds the allowed throughput',
    );
    expect((failure as JobStoreError).operation).toBe('claimDelivery');
    expect((failure as JobStoreError).cause).toBe(error);
  });

  test('an invalid expiry is refused before calling AWS', async () => {
    await expect(store().claimDelivery('d-1', new Date('not a date'))).rejects.toThrow('job store claimDelivery failed: Error: expiresAt is not a valid date');
    expect(ddbMock.commandCalls(PutItemCommand)).toHaveLength(0);
  });
});

describe('putJob', () => {
  test('a queued job: one conditional UpdateItem that SETs the index key queuedFleet', async () => {
    ddbMock.on(UpdateItemCommand).resolves({});
    const queued = job();

    expect(await store().putJob(queued, EXPIRES)).toBe(true);

    expect(ddbMock.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(ddbMock.commandCalls(UpdateItemCommand)[0].args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: { S: 'job#31415926535' } },
      UpdateExpression: `${SET_ALL}, #queuedFleet = :fleet`,
      ConditionExpression: 'attribute_not_exists(pk) OR statusRank < :rank',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: values(queued, 1),
    });
  });

  test.each([
    ['in_progress', 2],
    ['completed', 3],
  ] as const)('a job %s: rank %d, and queuedFleet REMOVEd so the job leaves the index', async (status, rank) => {
    ddbMock.on(UpdateItemCommand).resolves({});
    const advanced = job({ status, updatedAt: '2026-11-24T10:05:00Z' });

    expect(await store().putJob(advanced, EXPIRES)).toBe(true);

    expect(ddbMock.commandCalls(UpdateItemCommand)[0].args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: { S: 'job#31415926535' } },
      UpdateExpression: `${SET_ALL} REMOVE #queuedFleet`,
      ConditionExpression: 'attribute_not_exists(pk) OR statusRank < :rank',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: values(advanced, rank),
    });
  });

  test('a job already at this status or beyond (the condition fails) resolves false', async () => {
    ddbMock.on(UpdateItemCommand).rejects(conditionFailed());
    expect(await store().putJob(job({ status: 'in_progress' }), EXPIRES)).toBe(false);
  });

  test('other failures propagate, naming the operation', async () => {
    ddbMock.on(UpdateItemCommand).rejects(throttled());
    await expect(store().putJob(job(), EXPIRES)).rejects.toThrow(/^job store putJob failed: ProvisionedThroughputExceededException/);
  });

  test('an unknown status is refused before calling AWS', async () => {
    await expect(store().putJob(job({ status: 'waiting' as JobStatus }), EXPIRES)).rejects.toThrow('unknown job status "waiting"');
    expect(ddbMock.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('queuedJobs', () => {
  test('queries the sparse index over every page and skips jobs the lagging index still lists', async () => {
    const one = job({ jobId: 1, queuedAt: '2026-11-24T10:00:00Z' });
    const two = job({ jobId: 2, queuedAt: '2026-11-24T10:01:00Z' });
    const lagging = job({ jobId: 3, status: 'in_progress' });
    const three = job({ jobId: 4, queuedAt: '2026-11-24T10:02:00Z', repository: 'octo-org/api' });
    const page = (start: Record<string, AttributeValue> | undefined): QueryCommandInput => ({
      TableName: TABLE,
      IndexName: 'QueuedByFleet',
      KeyConditionExpression: 'queuedFleet = :fleet',
      ExpressionAttributeValues: { ':fleet': { S: 'linux' } },
      ExclusiveStartKey: start,
    });
    const key2 = { pk: { S: 'job#2' }, queuedFleet: { S: 'linux' }, queuedAt: { S: two.queuedAt } };
    const key3 = { pk: { S: 'job#3' }, queuedFleet: { S: 'linux' }, queuedAt: { S: lagging.queuedAt } };
    ddbMock.on(QueryCommand, page(undefined)).resolves({ Items: [jobItem(one), jobItem(two)], LastEvaluatedKey: key2 });
    ddbMock.on(QueryCommand, page(key2)).resolves({ Items: [{ ...jobItem(lagging), queuedFleet: { S: 'linux' } }], LastEvaluatedKey: key3 });
    ddbMock.on(QueryCommand, page(key3)).resolves({ Items: [jobItem(three)] });

    expect(await store().queuedJobs('linux')).toEqual([one, two, three]);

    const calls = ddbMock.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.ExclusiveStartKey)).toEqual([undefined, key2, key3]);
    expect(calls[0]).toEqual(page(undefined));
  });

  test('no queued job: an empty list after one page', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [] });
    expect(await store().queuedJobs('linux')).toEqual([]);
    expect(ddbMock.commandCalls(QueryCommand)).toHaveLength(1);
  });

  test('an incomplete item (an index that does not project every attribute) is an error, not a job silently lost', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [{ pk: { S: 'job#9' }, queuedFleet: { S: 'linux' }, queuedAt: { S: '2026-11-24T10:00:00Z' } }] });
    await expect(store().queuedJobs('linux')).rejects.toThrow('job store queuedJobs failed: Error: item job#9 has no string status');
  });

  test('an item with an unknown status is an error', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [{ ...jobItem(job({ jobId: 9 })), status: { S: 'waiting' } }] });
    await expect(store().queuedJobs('linux')).rejects.toThrow('job store queuedJobs failed: Error: item job#9 has an unknown status');
  });

  test('a failure on a later page propagates, naming the operation', async () => {
    ddbMock.on(QueryCommand).resolvesOnce({ Items: [jobItem(job())], LastEvaluatedKey: { pk: { S: 'job#1' } } }).rejectsOnce(throttled());
    await expect(store().queuedJobs('linux')).rejects.toThrow(/^job store queuedJobs failed: ProvisionedThroughputExceededException/);
  });
});

describe('errors', () => {
  test('a long AWS message is cut short in the rethrown error', async () => {
    ddbMock.on(PutItemCommand).rejects(Object.assign(new Error('x'.repeat(500)), { name: 'ValidationException' }));
    const failure = (await store().claimDelivery('d-1', EXPIRES).catch((e: Error) => e)) as Error;
    expect(failure.message).toBe(`job store claimDelivery failed: ${`ValidationException: ${'x'.repeat(500)}`.slice(0, 200)}…`);
  });

  test('a number that is not finite is refused before calling AWS', async () => {
    await expect(store().putJob(job({ jobId: Number.NaN }), EXPIRES)).rejects.toThrow('job store putJob failed: Error: not a finite number: NaN');
    expect(ddbMock.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('a job never moves back, whatever order deliveries arrive in', () => {
  /**
   * A table in memory that evaluates the adapter's own expressions: the condition as DynamoDB would,
   * then the SET and REMOVE clauses, and the sparse index as the items that have `queuedFleet`.
   */
  function memoryTable() {
    const items = new Map<string, Record<string, AttributeValue>>();
    ddbMock.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
      expect(input.ConditionExpression).toBe('attribute_not_exists(pk) OR statusRank < :rank');
      const pk = input.Key!.pk.S!;
      const names = input.ExpressionAttributeNames!;
      const vals = input.ExpressionAttributeValues!;
      const existing = items.get(pk);
      if (existing && Number(existing.statusRank.N) >= Number(vals[':rank'].N)) {
        throw conditionFailed();
      }
      const clauses = /^SET (.+?)(?: REMOVE (.+))?$/.exec(input.UpdateExpression!)!;
      const next = { ...(existing ?? { pk: { S: pk } }) };
      for (const assignment of clauses[1].split(', ')) {
        const [name, value] = assignment.split(' = ');
        next[names[name]] = vals[value];
      }
      for (const name of clauses[2]?.split(', ') ?? []) {
        delete next[names[name]];
      }
      items.set(pk, next);
      return {};
    });
    ddbMock.on(QueryCommand).callsFake((input: QueryCommandInput) => ({
      Items: [...items.values()].filter((i) => i.queuedFleet?.S === input.ExpressionAttributeValues![':fleet'].S),
    }));
    return items;
  }

  const RANK: Record<JobStatus, number> = { queued: 1, in_progress: 2, completed: 3 };

  test('property: the stored status is the highest delivered, writes succeed only upwards, the index holds exactly the queued jobs', async () => {
    const arbDelivery = fc.record({ jobId: fc.integer({ min: 1, max: 4 }), status: fc.constantFrom<JobStatus>('queued', 'in_progress', 'completed') });
    await fc.assert(
      fc.asyncProperty(fc.array(arbDelivery, { minLength: 1, maxLength: 12 }), async (deliveries) => {
        ddbMock.reset();
        const items = memoryTable();
        const highest = new Map<number, JobStatus>();
        for (const d of deliveries) {
          const before = highest.get(d.jobId);
          const changed = await store().putJob(job({ jobId: d.jobId, status: d.status }), EXPIRES);
          expect(changed).toBe(before === undefined || RANK[before] < RANK[d.status]);
          if (changed) {
            highest.set(d.jobId, d.status);
          }
        }
        for (const [jobId, status] of highest) {
          const item = items.get(`job#${jobId}`)!;
          expect(item.status.S).toBe(status);
          expect(item.queuedFleet !== undefined).toBe(status === 'queued');
        }
        const queued = [...highest].filter(([, status]) => status === 'queued').map(([jobId]) => jobId);
        expect((await store().queuedJobs('linux')).map((j) => j.jobId).sort()).toEqual(queued.sort());
      }),
      { numRuns: 200 },
    );
  });
});

test('the functions\' client retries a little', async () => {
  expect(await createDynamoDbClient().config.maxAttempts()).toBe(3);
});
