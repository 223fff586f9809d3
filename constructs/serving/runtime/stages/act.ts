/**
 * `act`: decisions from score thresholds (ch 5: take down, demote, send to review). The decision
 * is pure and always made; only the review-queue message is I/O. Messages carry the request id,
 * the item id, the action, the model's scores and the subject's pseudonym: never a raw identifier.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { ActStage } from '../contract';
import type { Candidate, RequestState } from '../types';
import type { StageResources, StageRun } from './context';

// SQS SendMessageBatch takes at most 10 entries.
const SQS_BATCH = 10;

export class ReviewQueueError extends Error {
  override readonly name = 'ReviewQueueError';
}

/** Sets `action` on each of `candidates`; returns those whose action goes to review. */
export function decideActions(stage: ActStage, candidates: readonly Candidate[]): Candidate[] {
  const review = new Set(stage.reviewActions ?? []);
  const toReview: Candidate[] = [];
  for (const candidate of candidates) {
    const scored = stage.rules.some((rule) => typeof candidate.scores?.[rule.scoreField] === 'number');
    let action = scored ? stage.defaultAction : (stage.unscoredAction ?? stage.defaultAction);
    for (const rule of stage.rules) {
      const score = candidate.scores?.[rule.scoreField];
      if (typeof score === 'number' && score >= rule.atLeast) {
        action = rule.action;
        break;
      }
    }
    candidate.action = action;
    if (review.has(action)) toReview.push(candidate);
  }
  return toReview;
}

export async function sendForReview(
  stage: ActStage,
  state: RequestState,
  candidates: readonly Candidate[],
  resources: StageResources,
  run: StageRun,
): Promise<void> {
  if (candidates.length === 0 || stage.reviewQueueUrl === undefined) return;
  const batches: Promise<void>[] = [];
  for (let start = 0; start < candidates.length; start += SQS_BATCH) {
    const entries = candidates.slice(start, start + SQS_BATCH).map((candidate, index) => ({
      Id: String(start + index),
      MessageBody: JSON.stringify({
        requestId: state.requestId,
        itemId: candidate.id,
        action: candidate.action,
        scores: candidate.scores ?? {},
        subject: state.subject ?? null,
      }),
    }));
    batches.push(
      (async () => {
        const response = await resources.deps.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: stage.reviewQueueUrl, Entries: entries }),
          { abortSignal: run.signal },
        );
        if ((response.Failed?.length ?? 0) > 0) throw new ReviewQueueError('some review messages were not accepted');
      })(),
    );
  }
  await Promise.all(batches);
}
