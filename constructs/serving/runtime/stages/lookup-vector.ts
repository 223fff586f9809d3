/** `lookupVector`: the query vector precomputed in a DynamoDB item (ch 9: the listing's embedding). */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { LookupVectorStage } from '../contract';
import { resolveSource } from '../sources';
import type { RequestState, StageResult } from '../types';
import { attributeAt, attributeList, attributeRoot, keyAttribute, toVector } from './answers';
import type { StageResources, StageRun } from './context';

export async function runLookupVector(
  stage: LookupVectorStage,
  state: RequestState,
  resources: StageResources,
  run: StageRun,
): Promise<StageResult> {
  const key = keyAttribute(resolveSource(stage.keyFrom, state));
  if (key === undefined) return { degraded: [{ label: stage.name, category: 'skipped' }] };
  const response = await resources.deps.dynamodb.send(
    new GetItemCommand({
      TableName: stage.tableName,
      Key: { [stage.partitionKey]: key },
      ProjectionExpression: '#vector',
      ExpressionAttributeNames: { '#vector': attributeRoot(stage.attribute) },
    }),
    { abortSignal: run.signal },
  );
  if (response.Item === undefined) return { degraded: [{ label: stage.name, category: 'not-found' }] };
  const vector = toVector(attributeList(attributeAt(response.Item, stage.attribute)));
  if (!vector) return { degraded: [{ label: stage.name, category: 'invalid-answer' }] };
  return {
    apply: (target) => {
      target.queryVector = vector;
    },
  };
}
