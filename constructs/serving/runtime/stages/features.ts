/**
 * `features`: online features of the subject (keyed by its pseudonym), of candidates (keyed by
 * item id) and of subject–candidate pairs (keyed by `<subject>|<candidate field value>`). Cache first, Feature Store for the misses, misses written back to the cache.
 *
 * Values stay the strings Feature Store stores (`ValueAsString`, or a list for list features):
 * nothing here guesses which strings are numbers. The model's input handler owns that conversion,
 * as it does for the same features read offline.
 *
 * Time: the cache gets at most a quarter of what is left of the stage, so a slow cache still
 * leaves Feature Store most of it; Feature Store gets the rest, ending a little before the stage's
 * deadline so that cache hits survive a slow Feature Store.
 */
import {
  BatchGetRecordCommand,
  type BatchGetRecordResponse,
  type FeatureValue as SdkFeatureValue,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { CACHE_LABEL } from '../config';
import type { FeaturesStage } from '../contract';
import type { FeatureCache } from '../deps';
import { errorName, isJsonObject } from '../json';
import { isTimeout, raceTimeout } from '../timeout';
import type { Candidate, Degradation, FeatureValue, RequestState, StageResult } from '../types';
import { InvalidAnswerError, type StageResources, type StageRun } from './context';

type Group = FeaturesStage['groups'][number];
type FeatureRecord = Record<string, FeatureValue>;

interface Lookup {
  readonly group: Group;
  readonly id: string;
  readonly cacheKey: string;
}

// Feature Store's BatchGetRecord takes at most 100 record identifiers per feature group entry.
const BATCH_SIZE = 100;
const CACHE_SHARE = 0.25;
// Cache connection states in which a command is answered soon; otherwise skip the cache at once.
const USABLE_CACHE_STATES = new Set(['ready', 'connect', 'connecting', 'wait']);

class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
}

export async function runFeatures(
  stage: FeaturesStage,
  state: RequestState,
  resources: StageResources,
  run: StageRun,
): Promise<StageResult> {
  const lookups = planLookups(stage, state);
  if (lookups.length === 0) return {};
  const now = (): number => resources.deps.clock.now();
  const found = new Map<Lookup, FeatureRecord>();
  const degraded: Degradation[] = [];

  let cache: FeatureCache | undefined;
  if (stage.cache) {
    try {
      const cacheMs = Math.max(1, Math.floor((run.deadline - now()) * CACHE_SHARE));
      const read = await raceTimeout(cacheMs, readCache(stage, lookups, resources));
      cache = read.cache;
      for (const [lookup, record] of read.hits) found.set(lookup, record);
    } catch (error) {
      cache = undefined;
      degraded.push({ label: CACHE_LABEL, category: isTimeout(error) ? 'timeout' : 'unavailable', errorName: errorName(error) });
    }
  }

  const misses = lookups.filter((lookup) => !found.has(lookup));
  if (misses.length > 0) {
    const remaining = run.deadline - now();
    const storeMs = Math.max(1, remaining - Math.max(2, Math.floor(remaining / 10)));
    try {
      // The stage's signal aborts the calls at its deadline; this race returns a little earlier.
      const fromStore = await raceTimeout(storeMs, readFeatureStore(misses, resources, run.signal));
      for (const [lookup, record] of fromStore) {
        found.set(lookup, record);
        if (cache && stage.cache) writeBack(cache, lookup.cacheKey, record, stage.cache.ttlSeconds, resources);
      }
      if (fromStore.incomplete) degraded.push({ label: stage.name, category: 'error', errorName: 'BatchGetRecordError' });
    } catch (error) {
      degraded.push({ label: stage.name, category: isTimeout(error) ? 'timeout' : 'error', errorName: errorName(error) });
    }
  }

  return {
    degraded,
    apply: (target) => {
      const byId = new Map(target.candidates.map((candidate) => [candidate.id, candidate]));
      for (const [lookup, record] of found) {
        if (lookup.group.of === 'subject') Object.assign(target.subjectFeatures, record);
        else if (lookup.group.of === 'candidates') {
          const candidate = byId.get(lookup.id);
          if (candidate) Object.assign(candidate.fields, record);
        }
      }
      // A pair record (one per distinct field value) goes to every candidate with that value.
      for (const [lookup, record] of found) {
        if (lookup.group.of !== 'pairs') continue;
        for (const candidate of target.candidates) {
          if (pairId(lookup.group, target.subject, candidate) === lookup.id) Object.assign(candidate.fields, record);
        }
      }
    },
  };
}

function planLookups(stage: FeaturesStage, state: RequestState): Lookup[] {
  const prefix = stage.cache?.keyPrefix ?? '';
  const lookups: Lookup[] = [];
  for (const group of stage.groups) {
    const ids = new Set<string>();
    if (group.of === 'subject') {
      if (state.subject !== undefined) ids.add(state.subject);
    } else {
      for (const candidate of state.candidates) {
        const id = group.of === 'candidates' ? candidate.id : pairId(group, state.subject, candidate);
        if (id !== undefined) ids.add(id);
      }
    }
    for (const id of ids) lookups.push({ group, id, cacheKey: `${prefix}${group.featureGroupName}:${id}` });
  }
  return lookups;
}

/**
 * `<subject>|<candidate field value>`: both pseudonyms when the field is (an author's id read from
 * a pseudonymized store). Undefined without a subject or a string value of the field.
 */
function pairId(group: Group, subject: string | undefined, candidate: Candidate): string | undefined {
  const field = group.candidateField;
  if (subject === undefined || field === undefined) return undefined;
  const value = Object.hasOwn(candidate.fields, field) ? candidate.fields[field] : undefined;
  return typeof value === 'string' && value !== '' ? `${subject}|${value}` : undefined;
}

async function readCache(
  stage: FeaturesStage,
  lookups: readonly Lookup[],
  resources: StageResources,
): Promise<{ cache: FeatureCache; hits: Map<Lookup, FeatureRecord> }> {
  const cache = await resources.cacheFor(stage);
  // A reconnecting client would queue the command; Feature Store answers sooner.
  if (!USABLE_CACHE_STATES.has(cache.status)) throw new CacheUnavailableError('the cache is not connected');
  const values = await cache.mget(lookups.map((lookup) => lookup.cacheKey));
  const hits = new Map<Lookup, FeatureRecord>();
  lookups.forEach((lookup, index) => {
    const record = parseCached(values[index], lookup.group.features);
    if (record) hits.set(lookup, record);
  });
  return { cache, hits };
}

/** A cached record, or undefined (a miss) when absent or not what this stage writes. */
function parseCached(value: string | null | undefined, features: readonly string[]): FeatureRecord | undefined {
  if (value === null || value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!isJsonObject(parsed)) return undefined;
  const record: FeatureRecord = {};
  for (const feature of features) {
    const item = Object.hasOwn(parsed, feature) ? parsed[feature] : undefined;
    if (typeof item === 'string') record[feature] = item;
    else if (Array.isArray(item) && item.every((element) => typeof element === 'string')) record[feature] = item as string[];
  }
  return record;
}

type StoreResult = Map<Lookup, FeatureRecord> & { incomplete?: boolean };

async function readFeatureStore(misses: readonly Lookup[], resources: StageResources, signal: AbortSignal): Promise<StoreResult> {
  const byGroup = new Map<Group, Lookup[]>();
  for (const lookup of misses) {
    const list = byGroup.get(lookup.group);
    if (list) list.push(lookup);
    else byGroup.set(lookup.group, [lookup]);
  }
  const calls: Promise<void>[] = [];
  const result: StoreResult = new Map();
  for (const [group, lookups] of byGroup) {
    for (let start = 0; start < lookups.length; start += BATCH_SIZE) {
      const chunk = lookups.slice(start, start + BATCH_SIZE);
      calls.push(
        (async () => {
          const response = await resources.deps.featureStore.send(
            new BatchGetRecordCommand({
              Identifiers: [
                {
                  FeatureGroupName: group.featureGroupName,
                  RecordIdentifiersValueAsString: chunk.map((lookup) => lookup.id),
                  FeatureNames: [...group.features],
                },
              ],
            }),
            { abortSignal: signal },
          );
          collect(response, chunk, result);
        })(),
      );
    }
  }
  await Promise.all(calls);
  return result;
}

function collect(response: BatchGetRecordResponse, chunk: readonly Lookup[], result: StoreResult): void {
  if (!Array.isArray(response.Records)) throw new InvalidAnswerError('BatchGetRecord without Records');
  const byId = new Map(chunk.map((lookup) => [lookup.id, lookup]));
  for (const detail of response.Records) {
    const lookup = byId.get(detail.RecordIdentifierValueAsString ?? '');
    if (lookup) result.set(lookup, toRecord(detail.Record ?? [], lookup.group.features));
  }
  // Records that do not exist are simply absent; errors and unprocessed ids are a partial answer.
  if ((response.Errors?.length ?? 0) > 0 || (response.UnprocessedIdentifiers?.length ?? 0) > 0) result.incomplete = true;
}

function toRecord(values: readonly SdkFeatureValue[], features: readonly string[]): FeatureRecord {
  const record: FeatureRecord = {};
  for (const value of values) {
    const name = value.FeatureName;
    // Only the group's listed features: a store answering more must not widen what stages see.
    if (name === undefined || !features.includes(name)) continue;
    if (value.ValueAsString !== undefined) record[name] = value.ValueAsString;
    else if (value.ValueAsStringList !== undefined) record[name] = value.ValueAsStringList;
  }
  return record;
}

function writeBack(cache: FeatureCache, key: string, record: FeatureRecord, ttlSeconds: number, resources: StageResources): void {
  // Fire and forget: the response does not wait for the cache, and a failed write only costs a
  // later miss. Started in a promise so that a client throwing synchronously is counted too.
  Promise.resolve()
    .then(() => cache.set(key, JSON.stringify(record), 'EX', ttlSeconds))
    .catch(() => resources.cacheWriteFailed());
}
