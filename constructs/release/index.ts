export * from './defaults';
export * from './model-release';
// The runtime's contract, for readers of the release state (the serving path) and for tests.
export { RELEASE_DEFAULTS, RELEASE_ENV, STATE_SORT_KEY, planExperiment } from './runtime';
export type { ExperimentPlan, GuardrailConfig, RampPolicyConfig, ReleaseState, VariantWeight } from './runtime';
