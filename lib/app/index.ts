export * from './blueprint';
export * from './create-app';
