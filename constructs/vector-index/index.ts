export * from './index-settings';
export * from './policies';
export * from './validation';
export * from './vector-index';
