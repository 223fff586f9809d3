export * from './dashboard';
export * from './data-quality-schedule';
export * from './drift-job';
export * from './model-monitor';
export * from './retraining-trigger';
export * from './types';
export * from './validation';
