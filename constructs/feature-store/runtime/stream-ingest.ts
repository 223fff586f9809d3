/**
 * Kinesis → SageMaker Feature Store ingestion: the feature store's anonymization stage.
 *
 * The stream carries RAW events (personal data). Before anything reaches the feature group, each
 * event is reduced to the feature group's features and its identifier fields are replaced by the
 * same keyed pseudonym the data lake's anonymizer uses, so every ML-side store is keyed alike.
 *
 * Privacy rules that shape this file:
 * - fields that are not features are dropped on parse and never sent or logged;
 * - logs carry sequence numbers, pseudonymized partition keys, error names and categories only,
 *   never payloads, values or error messages (JSON.parse and service messages can echo input);
 * - the pseudonym key is read from Secrets Manager, cached in memory, and never logged.
 *
 * Environment contract: see loadConfig.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import {
  type FeatureValue,
  PutRecordCommand,
  SageMakerFeatureStoreRuntimeClient,
  type TargetStore,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseJsonLossless } from '../../../lib/runtime/lossless-json';
import { KeySecretError, type PseudonymInput, parseKeySecret, pseudonymize } from '../../../lib/runtime/pseudonym';

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

export interface IngestConfig {
  readonly featureGroupName: string;
  readonly keySecretArn: string;
  /** Every feature of the group; the only fields kept from a raw event. */
  readonly featureNames: readonly string[];
  /** Features whose values are replaced by their pseudonym; each must be present in every event. */
  readonly pseudonymizeFields: ReadonlySet<string>;
  /**
   * Pseudonymized features whose value is a pair `<a>|<b>` (e.g. `user_author`): each part gets
   * its own pseudonym, joined by `|`, so a reader holding both pseudonyms (the request path: the
   * subject's and an author's from a pseudonymized store) can build the record identifier.
   */
  readonly pairFields: ReadonlySet<string>;
  readonly eventTimeFeature: string;
  /** undefined: let Feature Store write to every store the group has. */
  readonly targetStores: readonly TargetStore[] | undefined;
  readonly maxConcurrency: number;
}

/** The part of the configuration that maps a raw event to a feature record. */
export type FeatureMapping = Pick<IngestConfig, 'featureNames' | 'pseudonymizeFields' | 'eventTimeFeature'> &
  Partial<Pick<IngestConfig, 'pairFields'>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const TARGET_STORES: readonly TargetStore[] = ['OnlineStore', 'OfflineStore'];
const DEFAULT_MAX_CONCURRENCY = 10;
// PutRecord calls share the SDK's socket pool (50 by default); more in flight only queues.
const MAX_MAX_CONCURRENCY = 50;
// SageMaker's naming rule for feature groups and features.
const SAGEMAKER_NAME = /^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/;
const FEATURE_GROUP_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:feature-group\/[a-zA-Z0-9_-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/**
 * Validates the environment. Every error message starts with the variable's name.
 *
 * - FEATURE_GROUP_NAME   feature group name or ARN
 * - KEY_SECRET_ARN       Secrets Manager secret ARN; SecretString is the key, plain or {"key": "..."}
 * - FEATURE_NAMES        JSON array of the group's feature names (non-empty, unique)
 * - PSEUDONYMIZE_FIELDS  JSON array, non-empty subset of FEATURE_NAMES
 * - PAIR_FIELDS          optional JSON array, subset of PSEUDONYMIZE_FIELDS: values `<a>|<b>`,
 *                        pseudonymized part by part into `<pseudonym a>|<pseudonym b>`
 * - EVENT_TIME_FEATURE   one of FEATURE_NAMES, not pseudonymized
 * - TARGET_STORES        optional JSON array of "OnlineStore" | "OfflineStore" (unset: all stores of the group)
 * - MAX_CONCURRENCY      optional integer 1..50, default 10
 */
export function loadConfig(env: Env): IngestConfig {
  const featureGroupName = requireVar(env, 'FEATURE_GROUP_NAME');
  if (!SAGEMAKER_NAME.test(featureGroupName) && !FEATURE_GROUP_ARN.test(featureGroupName)) {
    throw new ConfigError('FEATURE_GROUP_NAME must be a SageMaker feature group name or ARN');
  }
  const keySecretArn = requireVar(env, 'KEY_SECRET_ARN');
  if (!SECRET_ARN.test(keySecretArn)) {
    throw new ConfigError('KEY_SECRET_ARN must be a Secrets Manager secret ARN');
  }
  const featureNames = parseNameList(env, 'FEATURE_NAMES');
  for (const name of featureNames) {
    if (!SAGEMAKER_NAME.test(name)) {
      throw new ConfigError(`FEATURE_NAMES contains an invalid feature name: ${JSON.stringify(name)}`);
    }
  }
  const pseudonymizeFields = parseNameList(env, 'PSEUDONYMIZE_FIELDS');
  assertSubset('PSEUDONYMIZE_FIELDS', pseudonymizeFields, featureNames);
  const pairFields = env.PAIR_FIELDS === undefined ? [] : parseNameList(env, 'PAIR_FIELDS');
  if (pairFields.some((field) => !pseudonymizeFields.includes(field))) {
    throw new ConfigError('PAIR_FIELDS must name fields of PSEUDONYMIZE_FIELDS');
  }
  const eventTimeFeature = requireVar(env, 'EVENT_TIME_FEATURE');
  assertSubset('EVENT_TIME_FEATURE', [eventTimeFeature], featureNames);
  if (pseudonymizeFields.includes(eventTimeFeature)) {
    throw new ConfigError('EVENT_TIME_FEATURE must not be one of PSEUDONYMIZE_FIELDS');
  }
  return {
    featureGroupName,
    keySecretArn,
    featureNames,
    pseudonymizeFields: new Set(pseudonymizeFields),
    pairFields: new Set(pairFields),
    eventTimeFeature,
    targetStores: parseTargetStores(env),
    maxConcurrency: parseMaxConcurrency(env),
  };
}

function requireVar(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(`${name} is required`);
  }
  return value;
}

function parseJsonVar(env: Env, name: string): unknown {
  try {
    return JSON.parse(requireVar(env, name));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${name} must be valid JSON`);
  }
}

/** A non-empty JSON array of unique, non-empty strings. */
function parseNameList(env: Env, name: string): string[] {
  const parsed = parseJsonVar(env, name);
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new ConfigError(`${name} must be a non-empty JSON array of strings`);
  }
  const names: string[] = [];
  for (const item of parsed) {
    if (typeof item !== 'string' || item === '') {
      throw new ConfigError(`${name} must contain only non-empty strings`);
    }
    if (names.includes(item)) {
      throw new ConfigError(`${name} contains ${JSON.stringify(item)} twice`);
    }
    names.push(item);
  }
  return names;
}

function assertSubset(name: string, subset: readonly string[], of: readonly string[]): void {
  const unknown = subset.filter((item) => !of.includes(item));
  if (unknown.length > 0) {
    throw new ConfigError(`${name} must name features of FEATURE_NAMES; not features: ${JSON.stringify(unknown)}`);
  }
}

function parseTargetStores(env: Env): TargetStore[] | undefined {
  if (env.TARGET_STORES === undefined) return undefined;
  const stores = parseNameList(env, 'TARGET_STORES');
  for (const store of stores) {
    if (!(TARGET_STORES as readonly string[]).includes(store)) {
      throw new ConfigError(`TARGET_STORES may contain only ${TARGET_STORES.join(', ')}`);
    }
  }
  return stores as TargetStore[];
}

function parseMaxConcurrency(env: Env): number {
  if (env.MAX_CONCURRENCY === undefined) return DEFAULT_MAX_CONCURRENCY;
  const text = env.MAX_CONCURRENCY.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > MAX_MAX_CONCURRENCY) {
    throw new ConfigError(`MAX_CONCURRENCY must be an integer from 1 to ${MAX_MAX_CONCURRENCY}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Pure record mapping
// ---------------------------------------------------------------------------------------------

export type RejectCategory =
  | 'InvalidUtf8'
  | 'InvalidJson'
  | 'NotAnObject'
  | 'MissingPseudonymizedField'
  | 'UnsupportedValueType'
  | 'NonFiniteNumber'
  | 'UnpseudonymizableValue'
  | 'MalformedPair'
  | 'InvalidArrivalTimestamp';

/** A record that can never be ingested as sent. Carries a category and a feature name, never a value. */
export class RecordRejectedError extends Error {
  override readonly name = 'RecordRejectedError';
  constructor(
    readonly category: RejectCategory,
    readonly feature?: string,
  ) {
    super(feature === undefined ? category : `${category} (feature ${feature})`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a Kinesis record's base64 data into the raw event object. Integers beyond 2^53 are
 * bigints (see lossless-json.ts).
 */
export function parseRecord(base64Data: string): Readonly<Record<string, unknown>> {
  let text: string;
  try {
    text = UTF8.decode(Buffer.from(base64Data, 'base64'));
  } catch {
    throw new RecordRejectedError('InvalidUtf8');
  }
  let parsed: unknown;
  try {
    // Lossless: an integer identifier beyond 2^53 must keep its digits to get Python's pseudonym.
    parsed = parseJsonLossless(text);
  } catch {
    // JSON.parse's SyntaxError messages quote the input; drop them.
    throw new RecordRejectedError('InvalidJson');
  }
  if (!isJsonObject(parsed)) {
    throw new RecordRejectedError('NotAnObject');
  }
  return parsed;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface MappingContext {
  readonly mapping: FeatureMapping;
  /** The pseudonym key (secret). */
  readonly key: string;
  /** Kinesis approximateArrivalTimestamp (seconds since the epoch); the event time when the event has none. */
  readonly approximateArrivalTimestamp: number;
}

/**
 * Maps a raw event to the Feature Store record: only FEATURE_NAMES, identifiers pseudonymized,
 * null/absent features left out, the event time defaulted to the arrival time.
 */
export function toFeatureRecord(event: Readonly<Record<string, unknown>>, context: MappingContext): FeatureValue[] {
  const { featureNames, pseudonymizeFields, eventTimeFeature } = context.mapping;
  const pairFields = context.mapping.pairFields ?? new Set<string>();
  const record: FeatureValue[] = [];
  for (const featureName of featureNames) {
    // Own properties only: a feature named "constructor" must not read Object.prototype.
    const raw = Object.hasOwn(event, featureName) ? event[featureName] : undefined;
    if (raw === null || raw === undefined) {
      if (pseudonymizeFields.has(featureName)) {
        throw new RecordRejectedError('MissingPseudonymizedField', featureName);
      }
      if (featureName === eventTimeFeature) {
        record.push({ FeatureName: featureName, ValueAsString: arrivalTimeIso(context.approximateArrivalTimestamp) });
      }
      continue;
    }
    const scalar = toScalar(raw, featureName);
    const value = pairFields.has(featureName)
      ? pseudonymizePair(context.key, scalar, featureName)
      : pseudonymizeFields.has(featureName)
        ? pseudonymizeFeature(context.key, scalar, featureName)
        : scalarToString(scalar);
    record.push({ FeatureName: featureName, ValueAsString: value });
  }
  return record;
}

type Scalar = PseudonymInput;

function toScalar(raw: unknown, featureName: string): Scalar {
  if (typeof raw === 'string' || typeof raw === 'boolean' || typeof raw === 'bigint') return raw;
  if (typeof raw === 'number') {
    // 1e400 parses as Infinity; neither Feature Store nor the Python anonymizer accepts it.
    if (!Number.isFinite(raw)) throw new RecordRejectedError('NonFiniteNumber', featureName);
    return raw;
  }
  // Objects and arrays have no ValueAsString form (and could hide unclassified fields).
  throw new RecordRejectedError('UnsupportedValueType', featureName);
}

function scalarToString(value: Scalar): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value); // bigint: its exact digits
}

function pseudonymizeFeature(key: string, value: Scalar, featureName: string): string {
  try {
    return pseudonymize(key, value);
  } catch {
    throw new RecordRejectedError('UnpseudonymizableValue', featureName);
  }
}

/** `<a>|<b>` → `<pseudonym a>|<pseudonym b>`; each part is hashed as the string it is, like a string identifier. */
function pseudonymizePair(key: string, value: Scalar, featureName: string): string {
  const parts = typeof value === 'string' ? value.split('|') : [];
  if (parts.length !== 2 || parts.some((part) => part === '')) throw new RecordRejectedError('MalformedPair', featureName);
  return parts.map((part) => pseudonymizeFeature(key, part, featureName)).join('|');
}

function arrivalTimeIso(approximateArrivalTimestamp: number): string {
  const time = new Date(approximateArrivalTimestamp * 1000);
  if (!Number.isFinite(time.getTime())) {
    throw new RecordRejectedError('InvalidArrivalTimestamp');
  }
  return time.toISOString();
}

// ---------------------------------------------------------------------------------------------
// Pseudonym key
// ---------------------------------------------------------------------------------------------

export { KeySecretError, parseKeySecret };

// ---------------------------------------------------------------------------------------------
// Batch processing
// ---------------------------------------------------------------------------------------------

/** Keeps records of one partition key together, in sequence order; groups in first-seen order. */
export function groupByPartitionKey(records: readonly KinesisStreamRecord[]): KinesisStreamRecord[][] {
  const groups = new Map<string, KinesisStreamRecord[]>();
  for (const record of records) {
    const group = groups.get(record.kinesis.partitionKey);
    if (group) group.push(record);
    else groups.set(record.kinesis.partitionKey, [record]);
  }
  return [...groups.values()].map((group) => group.sort(bySequenceNumber));
}

// Sequence numbers are decimal strings too long for a number; without leading zeros, a shorter
// string is a smaller number. (A batch already arrives in order; this guards the invariant.)
function bySequenceNumber(a: KinesisStreamRecord, b: KinesisStreamRecord): number {
  const x = a.kinesis.sequenceNumber;
  const y = b.kinesis.sequenceNumber;
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Runs tasks with at most `limit` in flight. */
async function runBounded<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------
// Lambda wiring (module scope: once per container)
// ---------------------------------------------------------------------------------------------

// Validated at cold start: a misconfigured function fails its init with the variable's name.
const config = loadConfig(process.env);
// Default configuration: region and credentials from the Lambda environment.
const featureStore = new SageMakerFeatureStoreRuntimeClient({});
const secretsManager = new SecretsManagerClient({});

let keyPromise: Promise<string> | undefined;

/** The pseudonym key, fetched once per container; a failed fetch is retried on the next call. */
function pseudonymKey(): Promise<string> {
  keyPromise ??= fetchKey().catch((error: unknown) => {
    keyPromise = undefined;
    throw error;
  });
  return keyPromise;
}

async function fetchKey(): Promise<string> {
  const response = await secretsManager.send(new GetSecretValueCommand({ SecretId: config.keySecretArn }));
  if (response.SecretString === undefined) {
    throw new KeySecretError('the pseudonym key secret has no SecretString');
  }
  return parseKeySecret(response.SecretString);
}

type FailureCategory = RejectCategory | 'PutRecordFailed' | 'InternalError';

/** Maps and puts one record; reports and returns false on failure. */
async function ingest(record: KinesisStreamRecord, key: string): Promise<boolean> {
  let features: FeatureValue[];
  try {
    features = toFeatureRecord(parseRecord(record.kinesis.data), {
      mapping: config,
      key,
      approximateArrivalTimestamp: record.kinesis.approximateArrivalTimestamp,
    });
  } catch (error) {
    if (error instanceof RecordRejectedError) logFailure(record, key, error.name, error.category, error.feature);
    else logFailure(record, key, errorName(error), 'InternalError');
    return false;
  }
  try {
    await featureStore.send(
      new PutRecordCommand({
        FeatureGroupName: config.featureGroupName,
        Record: features,
        ...(config.targetStores ? { TargetStores: [...config.targetStores] } : {}),
      }),
    );
    return true;
  } catch (error) {
    // The SDK has already retried retryable errors; the rest is Lambda's retry of the shard.
    logFailure(record, key, errorName(error), 'PutRecordFailed');
    return false;
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/**
 * One JSON line per failed record. Producers often use the user id as partition key, so the
 * partition key is logged as its pseudonym: still correlatable with the feature store, not personal.
 */
function logFailure(
  record: KinesisStreamRecord,
  key: string,
  errorName: string,
  category: FailureCategory,
  feature?: string,
): void {
  console.error(
    JSON.stringify({
      level: 'ERROR',
      message: 'record not ingested',
      sequenceNumber: record.kinesis.sequenceNumber,
      partitionKeyPseudonym: safePseudonym(key, record.kinesis.partitionKey),
      errorName,
      category,
      ...(feature === undefined ? {} : { feature }),
    }),
  );
}

function safePseudonym(key: string, value: string): string | undefined {
  try {
    return pseudonymize(key, value);
  } catch {
    return undefined;
  }
}

export const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
  const key = await pseudonymKey();
  const failed = new Set<string>();
  await runBounded(groupByPartitionKey(event.Records), config.maxConcurrency, async (group) => {
    // Sequential within a partition key so a later event never overtakes an earlier one. A failed
    // record does not stop its successors: Lambda replays from the first failure anyway.
    for (const record of group) {
      if (!(await ingest(record, key))) failed.add(record.kinesis.sequenceNumber);
    }
  });
  // Only failed records are reported; an empty list tells Lambda the whole batch succeeded.
  return {
    batchItemFailures: event.Records.filter((record) => failed.has(record.kinesis.sequenceNumber)).map((record) => ({
      itemIdentifier: record.kinesis.sequenceNumber,
    })),
  };
};
