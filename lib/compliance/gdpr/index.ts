export * from './gdpr-checks';
export * from './instance-storage';
export * from './rule';
export * from './rules';
