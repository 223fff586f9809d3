export * from './app';
export * from './classification';
export * from './compliance';
export * from './context';
export * from './defaults';
export * from './errors';
export * from './sagemaker';
export * from './workflows';
