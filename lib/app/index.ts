export * from './blueprint';
export * from './create-app';
export * from './figures';
export * from './physical-names';
