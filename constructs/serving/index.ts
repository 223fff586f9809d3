export * from './popular-items';
export * from './popular-items-query';
export * from './popular-items-validation';
export * from './private-api';
export * from './serving-log';
export * from './serving-path';
export * from './stages';
export type { RequestField, RequestFieldType, ValueSource } from './runtime/contract';
export { CACHE_EXPIRY_ATTRIBUTE, DEFAULT_RRF_K, FEEDBACK_ROUTE, PIPELINE_ENV, SERVE_ROUTE } from './runtime/contract';
