export * from './binomial';
export * from './evidence';
export * from './guardrails';
export * from './input-error';
export * from './normal';
export * from './plan';
export * from './prng';
export * from './ramp-policy';
export * from './sequential-test';
export * from './simulation';
// The release handlers' contract with the construct that deploys them: environment variables and
// their JSON shapes, the names the handlers create, the state item's shape and keys.
export * from './contract';
export * from './names';
export { BOOTSTRAP_PACKAGE, DECISION_PREFIX, STATE_SORT_KEY } from './release-state';
export type { ChallengerModel, DecisionRecordInput, PendingDeployment, ReleaseState, ServedModel, VariantWeight } from './release-state';
export type { ReleaseEvent, ReleaseEventAction } from './release-event';
