export * from './batch-transform';
export * from './export';
export * from './prediction-cache';
export * from './schedule';
export * from './sharded-load';
export * from './validation';
export * from './vector-load';
export * from './window-indexing';
