export * from './private-api';
export * from './serving-log';
export * from './serving-path';
export * from './stages';
export type { RequestField, RequestFieldType, ValueSource } from './runtime/contract';
export { DEFAULT_RRF_K, FEEDBACK_ROUTE, PIPELINE_ENV, SERVE_ROUTE } from './runtime/contract';
