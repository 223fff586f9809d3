export * from './erasure';
export * from './sql';
export * from './stores';
export * from './validation';
