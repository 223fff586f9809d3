export * from './classification';
export * from './erasure';
export * from './table-maintenance';
