export * from './arithmetic';
export * from './batch';
export * from './cache';
export * from './endpoint';
export * from './stream';
export * from './traffic';
export * from './vector-index';
export * from './serving';
