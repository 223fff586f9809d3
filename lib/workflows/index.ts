export * from './intrinsic';
