export * from './retraining';
