export * from './images';
export * from './job-role';
