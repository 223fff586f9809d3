export * from './review-queue';
export * from './validation';
