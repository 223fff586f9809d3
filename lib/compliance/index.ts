export * from './acknowledge';
export * from './acknowledgments';
export * from './cdk-singletons';
export * from './gate';
export * from './grant-findings';
export * from './gdpr';
export * from './regions';
export * from './report-only';
