export * from './defaults';
export * from './model-source';
export * from './realtime-endpoint';
export * from './serving-model';
