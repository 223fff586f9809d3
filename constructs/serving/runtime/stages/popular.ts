/** `popular`: a precomputed list of ids in a DynamoDB item: the cold-start and timeout fallback. */
import { type AttributeValue, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CACHE_EXPIRY_ATTRIBUTE, type PopularStage } from '../contract';
import { addCandidates, type RequestState, type StageResult } from '../types';
import { attributeAt, attributeList, attributeRoot } from './answers';
import type { StageResources, StageRun } from './context';

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Whether the stage runs at all: a fallback adds nothing when earlier sources found candidates. */
export function popularApplies(stage: PopularStage, state: RequestState): boolean {
  return (stage.when ?? 'fallback') === 'always' || state.candidates.length === 0;
}

export async function runPopular(stage: PopularStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const templates = stage.fallbackKey === undefined ? [stage.key] : [stage.key, stage.fallbackKey];
  const keys = templates.map((template) => itemKey(template, state)).filter((key): key is string => key !== undefined);
  if (keys.length === 0) return { degraded: [{ label: stage.name, category: 'skipped' }] };
  // The fallback key is read only when the first names no live list: one GetItem on the common path.
  for (const key of new Set(keys)) {
    const response = await resources.deps.dynamodb.send(
      new GetItemCommand({
        TableName: stage.tableName,
        Key: { [stage.partitionKey]: { S: key } },
        ProjectionExpression: '#ids, #expires',
        ExpressionAttributeNames: { '#ids': attributeRoot(stage.attribute), '#expires': CACHE_EXPIRY_ATTRIBUTE },
      }),
      { abortSignal: run.signal },
    );
    // No list for this key (say, a language without one yet), or one its producer stopped
    // refreshing: the next key, else nothing to add, not a failure.
    if (response.Item === undefined || expired(response.Item, resources.deps.clock.now())) continue;
    const list = attributeList(attributeAt(response.Item, stage.attribute));
    if (list === undefined) return { degraded: [{ label: stage.name, category: 'invalid-answer' }] };
    const candidates = list
      .filter((id): id is string | number => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))
      .map((id) => ({ id: String(id), source: stage.name, fields: {} }));
    return { apply: (target) => addCandidates(target, candidates) };
  }
  return {};
}

/**
 * Whether the item's TTL has passed. DynamoDB deletes expired items only within days, and a list
 * whose producer stalled must stop being served when it expires; an item without one never does.
 */
function expired(item: Record<string, AttributeValue>, nowMs: number): boolean {
  const seconds = Number(item[CACHE_EXPIRY_ATTRIBUTE]?.N);
  return Number.isFinite(seconds) && seconds * 1000 <= nowMs;
}

/**
 * The item key with `{field}` placeholders filled from request fields (non-identifiers, by
 * config validation); undefined when a field is absent.
 */
function itemKey(template: string, state: RequestState): string | undefined {
  let missing = false;
  const key = template.replace(PLACEHOLDER, (_match, field: string) => {
    const value = Object.hasOwn(state.request, field) ? state.request[field] : undefined;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
      return String(value);
    }
    missing = true;
    return '';
  });
  return missing ? undefined : key;
}
