export * from './gpu-training-job';
export * from './image';
export * from './inputs';
export { DEFAULT_WARM_START_CHANNEL, GPU_TRAINING_FAMILIES } from './validation';
