export * from './maintenance';
export * from './sql';
export * from './tables';
export * from './validation';
