/**
 * The job table behind aws-sdk-client-mock: items in a Map, with the conditional writes the job store
 * asks for (a new delivery id; a job that only moves forward) and the sparse queued index. Faults are
 * injected per command. Call inside the function's isolated module registry.
 */
import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

export type Item = Record<string, DynamoDB.AttributeValue>;

export type TableCommand = 'PutItem' | 'UpdateItem' | 'Query';

/** The table's items and its fault injection; shared by every function that mocks it. */
export class FakeJobTable {
  readonly items = new Map<string, Item>();
  private readonly faults = new Map<TableCommand, Array<() => Error>>();

  /** The next `times` calls of `command` fail with `error()`, before anything is written. */
  fail(command: TableCommand, error: () => Error, times = 1): void {
    this.faults.set(command, [...(this.faults.get(command) ?? []), ...Array(times).fill(error)]);
  }

  /** Throws the next fault of `command`, if any. */
  take(command: TableCommand): void {
    const next = this.faults.get(command)?.shift();
    if (next) {
      throw next();
    }
  }
}

/** Mocks the DynamoDB client of the current registry with `table`. */
export function mockJobTable(ddb: typeof DynamoDB, table: FakeJobTable): void {
  const dynamo = mockClient(ddb.DynamoDBClient);
  const conditionFailed = () => new ddb.ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
  dynamo.on(ddb.PutItemCommand).callsFake(async (input: DynamoDB.PutItemCommandInput) => {
    table.take('PutItem');
    const pk = input.Item!.pk.S!;
    if (input.ConditionExpression?.includes('attribute_not_exists') && table.items.has(pk)) throw conditionFailed();
    table.items.set(pk, input.Item!);
    return {};
  });
  dynamo.on(ddb.UpdateItemCommand).callsFake(async (input: DynamoDB.UpdateItemCommandInput) => {
    table.take('UpdateItem');
    const pk = input.Key!.pk.S!;
    const rank = Number(input.ExpressionAttributeValues![':rank'].N);
    const existing = table.items.get(pk);
    if (existing && Number(existing.statusRank.N) >= rank) throw conditionFailed();
    const values = input.ExpressionAttributeValues!;
    const item: Item = {
      pk: { S: pk },
      statusRank: { N: String(rank) },
      ...Object.fromEntries(Object.entries(input.ExpressionAttributeNames ?? {})
        .map(([placeholder, name]) => [name, values[`:${placeholder.slice(1)}`]]).filter(([, v]) => v !== undefined)),
    };
    if (rank === 1) item.queuedFleet = values[':fleet'] ?? item.fleet;
    else delete item.queuedFleet;
    table.items.set(pk, item);
    return {};
  });
  dynamo.on(ddb.QueryCommand).callsFake(async (input: DynamoDB.QueryCommandInput) => {
    table.take('Query');
    const fleet = Object.values(input.ExpressionAttributeValues ?? {})[0]?.S;
    return { Items: [...table.items.values()].filter((i) => i.queuedFleet?.S === fleet) };
  });
}
