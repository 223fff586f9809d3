/**
 * The record of a deployment the release loop started or saw finish, stored beside the ramp's
 * decisions so that the audit trail tells the whole story of a model version: approved, deployed
 * as challenger (or champion), ramped, promoted or rolled back.
 */
import type { ServedModel } from './release-state';

/** What happened to a deployment. */
export type ReleaseEventAction =
  | 'deploy-challenger'
  | 'deploy-champion'
  | 'deployment-in-service'
  | 'deployment-rolled-back'
  | 'deployment-failed';

/** One deployment event; plain JSON. */
export interface ReleaseEvent {
  readonly kind: 'release-event';
  readonly version: 1;
  readonly action: ReleaseEventAction;
  /** When the handler saw it (ISO 8601). */
  readonly at: string;
  /** One line a person can read. */
  readonly reason: string;
  readonly endpointName: string;
  readonly role: 'challenger' | 'champion';
  readonly model: ServedModel;
  /** The endpoint config deployed (or that failed to deploy). */
  readonly endpointConfigName: string;
  /** The endpoint config before it. */
  readonly previousEndpointConfigName: string;
}
