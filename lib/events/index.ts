export * from './retraining';
export * from './model-version';
