export * from './batch-ingestion';
export * from './definitions';
export * from './feature-group';
export * from './feature-store';
export * from './online-cache';
export * from './streaming-ingestion';
