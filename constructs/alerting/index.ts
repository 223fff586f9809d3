export * from './alerting';
export * from './validation';
