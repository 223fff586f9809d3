import { aws_events as events } from 'aws-cdk-lib';

/**
 * The event a model monitor raises when a model needs retraining (drift or quality below a
 * threshold), and a training workflow consumes. One contract, so that either side can be swapped.
 *
 * Detail: `{ "modelName": string, "reason": "feature-drift" | "prediction-drift" | "model-quality",
 *            "metric": string, "value": number, "threshold": number,
 *            "alarms"?: [{ "name", "reason", "metric", "value", "threshold" }, ...],
 *            "episode"?: { "alarmName": string, "startedAt": string } }`
 *
 * A monitor raises one event per drift episode (see `constructs/model-monitor`): `alarms` lists every
 * alarm that was in ALARM when the episode began, and the top-level `reason`, `metric`, `value` and
 * `threshold` repeat its first entry, so that consumers written before `alarms` existed keep working.
 */
export const RETRAINING_EVENT_SOURCE = 'mlsd.model-monitor';
export const RETRAINING_DETAIL_TYPE = 'Model retraining requested';

/** Why a model needs retraining. */
export type RetrainingReason = 'feature-drift' | 'prediction-drift' | 'model-quality';

/** One alarm behind a retraining event, as it stood when the episode was read. */
export interface RetrainingAlarm {
  /** The CloudWatch alarm's name. */
  readonly name: string;
  readonly reason: RetrainingReason;
  /** What the alarm watches, e.g. `FeaturePSI/<feature>`, `PredictionPSI`, `Quality`. */
  readonly metric: string;
  /** The datapoint that crossed the threshold. */
  readonly value: number;
  /** The alarm's threshold. */
  readonly threshold: number;
}

/** The drift episode a retraining event stands for. */
export interface RetrainingEpisode {
  /** The composite alarm whose transition to ALARM began the episode. */
  readonly alarmName: string;
  /** When the episode's trigger started (ISO 8601): the start of the cool-down. */
  readonly startedAt: string;
}

/** The detail of a retraining event. */
export interface RetrainingEventDetail {
  readonly modelName: string;
  readonly reason: RetrainingReason;
  readonly metric: string;
  readonly value: number;
  readonly threshold: number;
  /**
   * Every alarm in ALARM when the episode began; the first is the one the fields above describe.
   * Optional so that producers that know of one alarm only still satisfy the contract.
   */
  readonly alarms?: readonly RetrainingAlarm[];
  /** The episode, when the producer de-duplicates alarms into episodes. */
  readonly episode?: RetrainingEpisode;
}

/** The pattern of retraining events for one model (on the default event bus). */
export function retrainingEventPattern(modelName: string): events.EventPattern {
  return { source: [RETRAINING_EVENT_SOURCE], detailType: [RETRAINING_DETAIL_TYPE], detail: { modelName: [modelName] } };
}
