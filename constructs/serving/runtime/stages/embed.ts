/** `embed`: one InvokeEndpoint whose answer holds the query vector (user tower, query encoder). */
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import type { EmbedStage } from '../contract';
import { toJson } from '../json';
import { resolveSources } from '../sources';
import type { RequestState, StageResult } from '../types';
import { decodeJsonBody, firstInstanceField, toVector } from './answers';
import type { StageResources, StageRun } from './context';

const UTF8 = new TextEncoder();

export async function runEmbed(stage: EmbedStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const response = await resources.deps.sagemakerRuntime.send(
    new InvokeEndpointCommand({
      EndpointName: stage.endpointName,
      ContentType: 'application/json',
      Accept: 'application/json',
      // One instance in the kit's request shape (serving_io.parse_instances), as the rank stage sends many.
      Body: UTF8.encode(toJson({ instances: [resolveSources(stage.input, state)] })),
    }),
    { abortSignal: run.signal },
  );
  const vector = toVector(firstInstanceField(decodeJsonBody(response.Body), stage.outputField));
  // No vector: the k-NN stages skip and the fallback source answers.
  if (!vector) return { degraded: [{ label: stage.name, category: 'invalid-answer' }] };
  return {
    apply: (target) => {
      target.queryVector = vector;
    },
  };
}
