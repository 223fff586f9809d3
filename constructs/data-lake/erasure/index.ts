export * from './erasure';
export * from './raw-erasure-batch';
export * from './sql';
export * from './stores';
export * from './validation';
