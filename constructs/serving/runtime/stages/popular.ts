/** `popular`: a precomputed list of ids in a DynamoDB item: the cold-start and timeout fallback. */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { PopularStage } from '../contract';
import { addCandidates, type RequestState, type StageResult } from '../types';
import { attributeAt, attributeList, attributeRoot } from './answers';
import type { StageResources, StageRun } from './context';

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Whether the stage runs at all: a fallback adds nothing when earlier sources found candidates. */
export function popularApplies(stage: PopularStage, state: RequestState): boolean {
  return (stage.when ?? 'fallback') === 'always' || state.candidates.length === 0;
}

export async function runPopular(stage: PopularStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const key = itemKey(stage.key, state);
  if (key === undefined) return { degraded: [{ label: stage.name, category: 'skipped' }] };
  const response = await resources.deps.dynamodb.send(
    new GetItemCommand({
      TableName: stage.tableName,
      Key: { [stage.partitionKey]: { S: key } },
      ProjectionExpression: '#ids',
      ExpressionAttributeNames: { '#ids': attributeRoot(stage.attribute) },
    }),
    { abortSignal: run.signal },
  );
  // No list for this key (say, a language without one yet): nothing to add, not a failure.
  if (response.Item === undefined) return {};
  const list = attributeList(attributeAt(response.Item, stage.attribute));
  if (list === undefined) return { degraded: [{ label: stage.name, category: 'invalid-answer' }] };
  const candidates = list
    .filter((id): id is string | number => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))
    .map((id) => ({ id: String(id), source: stage.name, fields: {} }));
  return { apply: (target) => addCandidates(target, candidates) };
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
