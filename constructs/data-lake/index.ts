export * from './anonymization-stage';
export * from './curated-dataset';
export * from './data-lake';
export * from './schema';
export * from './raw-ingestion-stream';
export * from './erasure';
export * from './maintenance';
