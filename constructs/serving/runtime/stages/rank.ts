/**
 * `rank`: one InvokeEndpoint scoring every candidate, on the production variant the subject is
 * assigned to (sticky: see variant.ts). On any failure the pipeline keeps the retrieval order
 * ({@link retrievalOrder}) and records no variant, so no impression is credited to a model that
 * did not rank it.
 */
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import type { RankStage } from '../contract';
import { isJsonObject, toJson } from '../json';
import { resolveSources } from '../sources';
import type { Candidate, RequestState, StageResult } from '../types';
import { assignVariant } from '../variant';
import { decodeJsonBody, instancesOf } from './answers';
import { InvalidAnswerError, type StageResources, type StageRun } from './context';

const UTF8 = new TextEncoder();

export async function runRank(stage: RankStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const candidates = state.candidates;
  if (candidates.length === 0) return {};
  // Config validation guarantees a subject for rank stages.
  const variant = assignVariant(resources.pipelineName, state.subject ?? '', resources.variantsOf(stage));
  if (variant === null) throw new InvalidAnswerError('no variant with weight');
  const response = await resources.deps.sagemakerRuntime.send(
    new InvokeEndpointCommand({
      EndpointName: stage.endpointName,
      TargetVariant: variant,
      ContentType: 'application/json',
      Accept: 'application/json',
      Body: UTF8.encode(rankBody(stage, state, candidates)),
    }),
    { abortSignal: run.signal },
  );
  const scored = readScores(stage, decodeJsonBody(response.Body), candidates.length);
  return {
    apply: (target) => {
      // The same candidate objects, in the order they were sent.
      candidates.forEach((candidate, index) => {
        candidate.score = scored[index].score;
        candidate.scores = scored[index].scores;
      });
      // Array.prototype.sort is stable: equal scores keep the retrieval order.
      target.candidates.sort((a, b) => descending(a.score, b.score));
      target.variant = variant;
    },
  };
}

/** `{"instances": [{id, ...candidate fields, ...context}]}`; exported for tests and the local model. */
export function rankBody(stage: RankStage, state: RequestState, candidates: readonly Candidate[]): string {
  const context = resolveSources(stage.context, state);
  return toJson({ instances: candidates.map((candidate) => ({ id: candidate.id, ...candidate.fields, ...context })) });
}

function readScores(stage: RankStage, answer: unknown, count: number): { score: number; scores: Record<string, unknown> }[] {
  const instances = instancesOf(answer);
  // Misaligned answers cannot be matched to candidates: the whole stage degrades.
  if (instances === undefined || instances.length !== count) throw new InvalidAnswerError('not one score per candidate');
  return instances.map((instance) => {
    if (typeof instance === 'number' && Number.isFinite(instance)) return { score: instance, scores: { [stage.scoreField]: instance } };
    if (isJsonObject(instance)) {
      const score = instance[stage.scoreField];
      if (typeof score === 'number' && Number.isFinite(score)) return { score, scores: instance };
    }
    throw new InvalidAnswerError('a score is not a finite number');
  });
}

/** The degraded order: retrieval score first (k-NN), then the order sources added candidates. */
export function retrievalOrder(state: RequestState): void {
  state.candidates.sort((a, b) => descending(a.retrievalScore, b.retrievalScore));
  state.variant = null;
}

/** Higher first; absent values last; ties 0 so the stable sort keeps their order. */
function descending(a: number | undefined, b: number | undefined): number {
  const x = a ?? -Infinity;
  const y = b ?? -Infinity;
  return x === y ? 0 : x > y ? -1 : 1;
}
