import { aws_events as events } from 'aws-cdk-lib';

/**
 * The event a model monitor raises when a model needs retraining (drift or quality below a
 * threshold), and a training workflow consumes. One contract, so that either side can be swapped.
 *
 * Detail: `{ "modelName": string, "reason": "feature-drift" | "prediction-drift" | "model-quality",
 *            "metric": string, "value": number, "threshold": number }`
 */
export const RETRAINING_EVENT_SOURCE = 'mlsd.model-monitor';
export const RETRAINING_DETAIL_TYPE = 'Model retraining requested';

/** Why a model needs retraining. */
export type RetrainingReason = 'feature-drift' | 'prediction-drift' | 'model-quality';

/** The detail of a retraining event. */
export interface RetrainingEventDetail {
  readonly modelName: string;
  readonly reason: RetrainingReason;
  readonly metric: string;
  readonly value: number;
  readonly threshold: number;
}

/** The pattern of retraining events for one model (on the default event bus). */
export function retrainingEventPattern(modelName: string): events.EventPattern {
  return { source: [RETRAINING_EVENT_SOURCE], detailType: [RETRAINING_DETAIL_TYPE], detail: { modelName: [modelName] } };
}
