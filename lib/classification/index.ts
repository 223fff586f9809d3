export * from './classification';
export * from './erasure';
