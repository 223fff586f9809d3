export * from './gdpr-checks';
export * from './rule';
export * from './rules';
