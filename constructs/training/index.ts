export * from './gpu-training-job';
export * from './image';
export * from './inputs';
export { GPU_TRAINING_FAMILIES } from './validation';
