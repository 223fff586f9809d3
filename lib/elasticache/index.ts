export * from './node-types';
