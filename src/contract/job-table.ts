/**
 * Names of the job table, shared by the construct that creates it (src/) and the adapter that reads and
 * writes it (lambda/adapters/job-store.ts), so that the two cannot drift apart.
 *
 * This module imports nothing: lambda/ bundles it.
 */

/** The sparse global secondary index that holds exactly the jobs still queued, per fleet. */
export const JOB_TABLE_QUEUED_INDEX = 'QueuedByFleet';

/** Key and attribute names of the job table (one table, on-demand billing). */
export const JobTableSchema = {
  /** Partition key of the table (string); no sort key. */
  partitionKey: 'pk',
  /** Time-to-live attribute (number, epoch seconds): deliveries and finished jobs expire on their own. */
  timeToLiveAttribute: 'expiresAt',
  /**
   * The queued-jobs index. Its keys are present only on queued jobs, so the index holds nothing else.
   * It must project all attributes: the runtime rebuilds whole job records from it.
   */
  queuedIndex: {
    indexName: JOB_TABLE_QUEUED_INDEX,
    /** Partition key of the index (string): the fleet of a queued job. */
    partitionKey: 'queuedFleet',
    /** Sort key of the index (string, ISO 8601): oldest queued job first. */
    sortKey: 'queuedAt',
  },
} as const;
