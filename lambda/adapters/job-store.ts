import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ClientSource, clientOf, dynamoDbSdk, lazy } from './aws-sdk';
import { JOB_TABLE_QUEUED_INDEX, JobTableSchema } from '../../src/contract/job-table';
import type { JobRecord, JobStatus, JobStorePort } from '../ports';

/** Prefixes of the partition key: one table holds deliveries and jobs side by side. */
export const JobTableKeyPrefix = {
  DELIVERY: 'delivery#',
  JOB: 'job#',
} as const;

type Item = Record<string, AttributeValue>;

const PK = JobTableSchema.partitionKey;
const TTL = JobTableSchema.timeToLiveAttribute;
const QUEUED_FLEET = JobTableSchema.queuedIndex.partitionKey;
const QUEUED_AT = JobTableSchema.queuedIndex.sortKey;

/** Order of the statuses: a conditional write only ever moves a job up this scale. */
const STATUS_RANK: Record<JobStatus, number> = { queued: 1, in_progress: 2, completed: 3 };

/** Longest AWS message kept in a rethrown error: enough to diagnose, short enough for a log line. */
const MAX_CAUSE_LENGTH = 200;

/**
 * A job store call that failed for another reason than a condition: the operation is in the message,
 * the AWS error in `cause`.
 */
export class JobStoreError extends Error {
  constructor(public readonly operation: string, cause: unknown) {
    super(`job store ${operation} failed: ${describe(cause)}`, { cause });
    this.name = 'JobStoreError';
  }
}

/**
 * The DynamoDB client for the functions (region from the environment). Short timeouts and few retries:
 * the webhook must answer GitHub within 10 seconds, and DynamoDB answers in milliseconds when it is well.
 */
export function createDynamoDbClient(): DynamoDBClient {
  const { DynamoDBClient } = dynamoDbSdk();
  return new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } });
}

/** The job table's port for the functions: the DynamoDB client (and its SDK package) made on the first call. */
export function jobTable(tableName: string): JobStorePort {
  return createJobStore(lazy(createDynamoDbClient), tableName);
}

/**
 * Deliveries and jobs in one DynamoDB table (see `JobTableSchema`). Given `lazy(createDynamoDbClient)`,
 * the client (and the SDK package) is made on the first call.
 */
export function createJobStore(source: ClientSource<DynamoDBClient>, tableName: string): JobStorePort {
  const client = clientOf(source);
  return {
    claimDelivery: (deliveryId, expiresAt) => claimDelivery(client(), tableName, deliveryId, expiresAt),
    putJob: (job, expiresAt) => putJob(client(), tableName, job, expiresAt),
    queuedJobs: (fleet) => queuedJobs(client(), tableName, fleet),
  };
}

/** PutItem only if the delivery id is new; `false` for a delivery seen before. */
export async function claimDelivery(client: DynamoDBClient, tableName: string, deliveryId: string, expiresAt: Date): Promise<boolean> {
  const { PutItemCommand } = dynamoDbSdk();
  const operation = 'claimDelivery';
  try {
    await client.send(new PutItemCommand({
      TableName: tableName,
      Item: { [PK]: str(JobTableKeyPrefix.DELIVERY + deliveryId), [TTL]: num(epochSeconds(expiresAt, operation)) },
      ConditionExpression: `attribute_not_exists(${PK})`,
    }));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) {
      return false;
    }
    throw new JobStoreError(operation, error);
  }
}

/**
 * One conditional UpdateItem: creates the job, or advances it if the stored status ranks lower. Only a
 * queued job carries the index key, so leaving `queued` REMOVEs it and the job drops out of the index.
 * `false` when the stored job was already at this status or beyond.
 */
export async function putJob(client: DynamoDBClient, tableName: string, job: JobRecord, expiresAt: Date): Promise<boolean> {
  const { UpdateItemCommand } = dynamoDbSdk();
  const operation = 'putJob';
  if (!isJobStatus(job.status)) {
    throw new JobStoreError(operation, new Error(`unknown job status ${JSON.stringify(job.status)}`));
  }
  const rank = STATUS_RANK[job.status];
  const queued = job.status === 'queued';
  const set = [
    '#jobId = :jobId',
    '#fleet = :fleet',
    '#status = :status',
    '#statusRank = :rank',
    '#repository = :repository',
    '#queuedAt = :queuedAt',
    '#updatedAt = :updatedAt',
    '#expiresAt = :expiresAt',
    ...(queued ? ['#queuedFleet = :fleet'] : []),
  ];
  try {
    await client.send(new UpdateItemCommand({
      TableName: tableName,
      Key: { [PK]: str(jobKey(job.jobId)) },
      UpdateExpression: `SET ${set.join(', ')}${queued ? '' : ' REMOVE #queuedFleet'}`,
      ConditionExpression: `attribute_not_exists(${PK}) OR statusRank < :rank`,
      ExpressionAttributeNames: {
        // Every attribute goes through a name placeholder: `status` is a DynamoDB reserved word, and
        // aliasing all of them keeps the next reserved word from breaking the expression.
        '#jobId': 'jobId',
        '#fleet': 'fleet',
        '#status': 'status',
        '#statusRank': 'statusRank',
        '#repository': 'repository',
        '#queuedAt': QUEUED_AT,
        '#updatedAt': 'updatedAt',
        '#expiresAt': TTL,
        '#queuedFleet': QUEUED_FLEET,
      },
      ExpressionAttributeValues: {
        ':jobId': num(job.jobId),
        ':fleet': str(job.fleet),
        ':status': str(job.status),
        ':rank': num(rank),
        ':repository': str(job.repository),
        ':queuedAt': str(job.queuedAt),
        ':updatedAt': str(job.updatedAt),
        ':expiresAt': num(epochSeconds(expiresAt, operation)),
      },
    }));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) {
      return false;
    }
    throw new JobStoreError(operation, error);
  }
}

/**
 * Every queued job of `fleet`, oldest first: a Query on the sparse index, all pages. The index is
 * eventually consistent, so a job advanced a moment ago may still be listed: those are skipped.
 */
export async function queuedJobs(client: DynamoDBClient, tableName: string, fleet: string): Promise<JobRecord[]> {
  const { QueryCommand } = dynamoDbSdk();
  const operation = 'queuedJobs';
  const jobs: JobRecord[] = [];
  let startKey: Item | undefined;
  do {
    let page;
    try {
      page = await client.send(new QueryCommand({
        TableName: tableName,
        IndexName: JOB_TABLE_QUEUED_INDEX,
        KeyConditionExpression: `${QUEUED_FLEET} = :fleet`,
        ExpressionAttributeValues: { ':fleet': str(fleet) },
        ExclusiveStartKey: startKey,
      }));
    } catch (error) {
      throw new JobStoreError(operation, error);
    }
    for (const item of page.Items ?? []) {
      const job = jobFromItem(item, operation);
      if (job.status === 'queued') {
        jobs.push(job);
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return jobs;
}

function jobKey(jobId: number): string {
  return `${JobTableKeyPrefix.JOB}${jobId}`;
}

/**
 * Rebuilds a job from its item. An incomplete item means the index does not project every attribute
 * (or a foreign writer): an error, because skipping it would hide queued jobs from scaling.
 */
function jobFromItem(item: Item, operation: string): JobRecord {
  const status = readStr(item, 'status', operation);
  if (!isJobStatus(status)) {
    throw new JobStoreError(operation, new Error(`item ${item[PK]?.S ?? '?'} has an unknown status`));
  }
  return {
    jobId: readNum(item, 'jobId', operation),
    fleet: readStr(item, 'fleet', operation),
    status,
    repository: readStr(item, 'repository', operation),
    queuedAt: readStr(item, QUEUED_AT, operation),
    updatedAt: readStr(item, 'updatedAt', operation),
  };
}

function str(value: string): AttributeValue {
  return { S: value };
}

function num(value: number): AttributeValue {
  if (!Number.isFinite(value)) {
    throw new Error(`not a finite number: ${value}`);
  }
  return { N: String(value) };
}

function readStr(item: Item, name: string, operation: string): string {
  const value = item[name]?.S;
  if (value === undefined) {
    throw new JobStoreError(operation, new Error(`item ${item[PK]?.S ?? '?'} has no string ${name}`));
  }
  return value;
}

function readNum(item: Item, name: string, operation: string): number {
  const value = Number(item[name]?.N);
  if (item[name]?.N === undefined || !Number.isFinite(value)) {
    throw new JobStoreError(operation, new Error(`item ${item[PK]?.S ?? '?'} has no number ${name}`));
  }
  return value;
}

/** DynamoDB's TTL reads epoch seconds. */
function epochSeconds(date: Date, operation: string): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) {
    throw new JobStoreError(operation, new Error('expiresAt is not a valid date'));
  }
  return Math.floor(ms / 1000);
}

function isJobStatus(value: string): value is JobStatus {
  return Object.hasOwn(STATUS_RANK, value);
}

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string } | undefined;
  const text = e?.message ? `${e.name ?? 'Error'}: ${e.message}` : String(error);
  return text.length > MAX_CAUSE_LENGTH ? `${text.slice(0, MAX_CAUSE_LENGTH)}…` : text;
}
