export * from './encryption-key';
export * from './log-group';
export * from './removal';
export * from './secure-bucket';
export * from './grants';
export * from './secure-function';
export * from './metrics-policy';
export * from './alarms';
