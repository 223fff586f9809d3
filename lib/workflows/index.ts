export * from './athena-query';
export * from './intrinsic';
export * from './job-name';
export * from './processing-code';
export * from './processing-job';
export * from './summaries';
export * from './workflow';
