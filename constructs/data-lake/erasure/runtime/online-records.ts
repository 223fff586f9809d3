/**
 * The erasure of a data subject's records from a SageMaker Feature Store online store when the
 * records are not addressed by the subject's pseudonym alone: a feature other than the record
 * identifier holds it (a post's `author_id`), or the record identifier is a pair
 * `<pseudonym>|<pseudonym>` of which the subject is either side. The online store cannot be
 * searched by value, so before invoking this function the workflow selects the record identifiers
 * from the group's offline store with Athena (`SELECT DISTINCT "<record identifier>" FROM ...
 * WHERE <feature> = '<p>'`, or `LIKE '<p>|%' OR LIKE '%|<p>'` for pairs) and saves the result CSV.
 *
 * 1. Read the list (one quoted record identifier per row under a header) and drop duplicates.
 * 2. For each listed record, at most {@link RECORD_CONCURRENCY} at a time: `GetRecord` of the
 *    feature. No record: it expired or was deleted already (`absent`). A value that still holds the
 *    subject: `DeleteRecord` (`HardDelete`, online store only: an offline delete marker would write
 *    the pseudonym back into the offline table). A value that does not: the record was rewritten
 *    since the offline row and is someone else's now (`kept`).
 * 3. `GetRecord` each deleted record again: verified when none holds the subject.
 *
 * `found` is how many records were deleted, so a rerun finds 0.
 *
 * Errors, by name (the workflow records the name, never the message): `InvalidStoreSpec` (a field
 * is missing or malformed), `InvalidRecordList` (the list is missing or not a one-column CSV),
 * `FeatureStoreUnavailable` (throttling, a 5xx or no answer, after the SDK's retries),
 * `FeatureStoreRefused` (a 4xx: e.g. an unknown group or feature, or a HardDelete whose event time
 * is not later than the record's, which happens when the record's event time is in the future),
 * `NotVerified` (a deleted record holds the subject again, e.g. rewritten by an ingestion that
 * still receives the subject's events).
 *
 * Privacy: record identifiers and the pseudonym never reach a log line or an error message; logs
 * carry the store's name and counts. Feature Store's own error messages are dropped (they may
 * quote a request's values); only their names are kept.
 */
import {
  DeleteRecordCommand,
  type FeatureValue,
  GetRecordCommand,
  SageMakerFeatureStoreRuntimeClient,
  type SageMakerFeatureStoreRuntimeClientConfig,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { InvalidStoreSpecError, NotVerifiedError } from '../../../../lib/runtime/erasure-errors';
import { PSEUDONYM_PATTERN } from '../../../../lib/runtime/pseudonym';
import { athenaColumn, eachAtMost } from '../../../../lib/runtime/athena-results';

export { InvalidStoreSpecError, NotVerifiedError };

/** Records looked at once: each is a GetRecord and perhaps a DeleteRecord, well within the online store's throughput. */
export const RECORD_CONCURRENCY = 8;
/** Attempts per Feature Store call, the first included; the SDK backs off between them (longer for throttling). */
export const FEATURE_STORE_MAX_ATTEMPTS = 5;

/** What the SDK client needs to retry and time out as this function expects. */
export const FEATURE_STORE_CLIENT_CONFIG = {
  maxAttempts: FEATURE_STORE_MAX_ATTEMPTS,
  retryMode: 'standard',
  // Without a request timeout a stuck connection would hold the function until the Lambda timeout, with no error name.
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
} as const satisfies SageMakerFeatureStoreRuntimeClientConfig;

/** How the feature holds the pseudonym (the registry's IcebergMatch values). */
export type RecordMatch = 'equals' | 'pairMember';

/** The workflow's payload: the store's registry entry, the subject's pseudonym and where the record list is. */
export interface OnlineRecordsInput {
  /** The store's name in the registry, for logs. */
  readonly name: string;
  readonly featureGroupName: string;
  /** The feature that holds the pseudonym (the record identifier itself for a pair group). */
  readonly feature: string;
  readonly match: RecordMatch;
  readonly pseudonym: string;
  readonly listBucket: string;
  readonly listKey: string;
  /**
   * The type of the group's event time feature, which fixes the format of DeleteRecord's event time.
   * @default 'String': ISO-8601; 'Fractional' takes seconds since the epoch
   */
  readonly eventTimeType?: 'String' | 'Fractional';
}

export interface OnlineRecordsOutput {
  /** Online records of the subject that were deleted. */
  readonly found: number;
}

/** What the erasure needs of S3 and Feature Store. */
export interface OnlineRecordsIo {
  /** The text of the record list; `InvalidRecordList` when it does not exist. */
  readList(bucket: string, key: string): Promise<string>;
  /** The values of `feature` in the online record (`[]` when it has none), `undefined` when there is no record. */
  featureValues(featureGroupName: string, recordId: string, feature: string): Promise<readonly string[] | undefined>;
  /** Removes the record from the online store only, as of `eventTime`. */
  hardDelete(featureGroupName: string, recordId: string, eventTime: string): Promise<void>;
}

export interface OnlineRecordsDeps extends OnlineRecordsIo {
  readonly now: () => Date;
  readonly log: (fields: Readonly<Record<string, unknown>>) => void;
}

/** The record list is missing or is not the result of the record query. */
export class InvalidRecordListError extends Error {
  override readonly name = 'InvalidRecordList';
}

/** Feature Store throttled, failed (5xx) or did not answer, through every attempt: the workflow retries later. */
export class FeatureStoreUnavailableError extends Error {
  override readonly name = 'FeatureStoreUnavailable';
}

/** Feature Store refused a request (4xx): a retry would not help. */
export class FeatureStoreRefusedError extends Error {
  override readonly name = 'FeatureStoreRefused';
}

/** Feature Store's pattern for feature and feature group names. */
const NAME = '[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]){0,63}';
const FEATURE_NAME = new RegExp(`^${NAME}$`);
const FEATURE_GROUP = new RegExp(`^(?:arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:feature-group/)?${NAME}$`);
const MATCHES: readonly RecordMatch[] = ['equals', 'pairMember'];

/** The input, or every problem with it at once. */
export function onlineRecordsInputOf(input: unknown): OnlineRecordsInput {
  const spec = (typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of ['name', 'listBucket', 'listKey']) {
    if (typeof spec[field] !== 'string' || spec[field] === '') problems.push(`${field} must be a non-empty string`);
  }
  if (typeof spec.featureGroupName !== 'string' || !FEATURE_GROUP.test(spec.featureGroupName)) {
    problems.push('featureGroupName must be a feature group name or ARN');
  }
  if (typeof spec.feature !== 'string' || !FEATURE_NAME.test(spec.feature)) problems.push('feature must be a feature name');
  if (!MATCHES.includes(spec.match as RecordMatch)) problems.push(`match must be one of ${MATCHES.join(', ')}`);
  if (typeof spec.pseudonym !== 'string' || !PSEUDONYM_PATTERN.test(spec.pseudonym)) problems.push('pseudonym must be 64 lower-case hex digits');
  if (spec.eventTimeType !== undefined && spec.eventTimeType !== 'String' && spec.eventTimeType !== 'Fractional') {
    problems.push('eventTimeType must be String or Fractional when given');
  }
  if (problems.length > 0) {
    throw new InvalidStoreSpecError(`the online records store entry cannot be erased: ${problems.join('; ')}`);
  }
  return spec as unknown as OnlineRecordsInput;
}

/** The record identifiers of an Athena result of the record query (one column under a header), once each. */
export function recordIdsOf(csv: string): string[] {
  const values = athenaColumn(csv, (problem) => new InvalidRecordListError(`the record list ${problem} (the erasure's record query writes one column under a header)`));
  // A record identifier is never empty; an empty value can only be a NULL of the offline table.
  return [...new Set(values.filter((v) => v !== ''))];
}

/** Whether a value of the feature is the subject's. */
function holdsSubject(values: readonly string[], match: RecordMatch, pseudonym: string): boolean {
  return values.some((value) => (match === 'equals' ? value === pseudonym : value.split('|').includes(pseudonym)));
}

/** DeleteRecord's event time in the format of the group's event time feature. */
function eventTimeOf(now: Date, type: OnlineRecordsInput['eventTimeType']): string {
  return type === 'Fractional' ? (now.getTime() / 1000).toFixed(3) : now.toISOString();
}

/** Deletes and verifies the online records of the list that still hold the subject. */
export async function eraseOnlineRecords(input: unknown, deps: OnlineRecordsDeps): Promise<OnlineRecordsOutput> {
  const target = onlineRecordsInputOf(input);
  const ids = recordIdsOf(await deps.readList(target.listBucket, target.listKey));
  const holds = async (id: string): Promise<boolean | undefined> => {
    const values = await deps.featureValues(target.featureGroupName, id, target.feature);
    return values === undefined ? undefined : holdsSubject(values, target.match, target.pseudonym);
  };

  const deleted: string[] = [];
  let absent = 0;
  let kept = 0;
  await eachAtMost(ids, RECORD_CONCURRENCY, async (id) => {
    const subjects = await holds(id);
    if (subjects === undefined) {
      absent += 1;
    } else if (!subjects) {
      kept += 1;
    } else {
      // Now, not the record's event time plus a little: a HardDelete must be later than the record, and a record's time is never later than now unless its writer's clock is ahead.
      await deps.hardDelete(target.featureGroupName, id, eventTimeOf(deps.now(), target.eventTimeType));
      deleted.push(id);
    }
  });

  // A record that is back but no longer the subject's (rewritten by another) is as step 2 would have left it.
  let remaining = 0;
  await eachAtMost(deleted, RECORD_CONCURRENCY, async (id) => {
    if (await holds(id)) remaining += 1;
  });
  if (remaining > 0) {
    throw new NotVerifiedError(`${remaining} online record(s) of the subject remain in store ${target.name} after DeleteRecord`);
  }
  deps.log({ level: 'INFO', message: 'online records erased', store: target.name, listed: ids.length, found: deleted.length, absent, kept });
  return { found: deleted.length };
}

/** SDK error names that mean "try again later", whatever their status. */
const TRANSIENT_NAMES = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestThrottled', 'ServiceUnavailable', 'InternalFailure', 'TimeoutError', 'RequestTimeout']);

/** Runs a Feature Store call, turning its failure into a named error without its message (which could quote a record identifier). */
async function featureStoreCall<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
    const status = $metadata?.httpStatusCode;
    // No status: no answer at all (refused or lost connection, timeout).
    if (status === undefined || status >= 500 || status === 429 || TRANSIENT_NAMES.has(name ?? '')) {
      throw new FeatureStoreUnavailableError(`${operation}: Feature Store did not answer usefully after ${$metadata?.attempts ?? 1} attempt(s) (${name ?? 'unknown error'}${status === undefined ? '' : `, HTTP ${status}`})`);
    }
    throw new FeatureStoreRefusedError(`${operation}: Feature Store refused the request (${name ?? 'unknown error'}, HTTP ${status})`);
  }
}

function valuesOf(feature: FeatureValue): string[] {
  return feature.ValueAsString !== undefined ? [feature.ValueAsString] : [...(feature.ValueAsStringList ?? [])];
}

/** The S3 and Feature Store calls, on SDK clients. */
export function sdkOnlineRecordsIo(s3: S3Client, featureStore: SageMakerFeatureStoreRuntimeClient): OnlineRecordsIo {
  return {
    async readList(bucket, key) {
      try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await object.Body!.transformToString('utf-8');
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') {
          throw new InvalidRecordListError('the record list does not exist (the workflow saves it under the request\'s hash before this step)');
        }
        throw error;
      }
    },
    async featureValues(featureGroupName, recordId, feature) {
      const answer = await featureStoreCall('GetRecord', () => featureStore.send(new GetRecordCommand({
        FeatureGroupName: featureGroupName, RecordIdentifierValueAsString: recordId, FeatureNames: [feature],
      })));
      // An absent, soft-deleted or expired record is an answer without Record.
      if (answer.Record === undefined) return undefined;
      return answer.Record.filter((f) => f.FeatureName === feature).flatMap(valuesOf);
    },
    async hardDelete(featureGroupName, recordId, eventTime) {
      await featureStoreCall('DeleteRecord', () => featureStore.send(new DeleteRecordCommand({
        FeatureGroupName: featureGroupName,
        RecordIdentifierValueAsString: recordId,
        EventTime: eventTime,
        DeletionMode: 'HardDelete',
        TargetStores: ['OnlineStore'],
      })));
    },
  };
}

const s3 = new S3Client({});
const featureStore = new SageMakerFeatureStoreRuntimeClient(FEATURE_STORE_CLIENT_CONFIG);

export const handler = (input: unknown): Promise<OnlineRecordsOutput> => eraseOnlineRecords(input, {
  ...sdkOnlineRecordsIo(s3, featureStore),
  now: () => new Date(),
  log: (fields) => console.log(JSON.stringify(fields)),
});
