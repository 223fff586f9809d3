export * from './dlc-images';
export * from './images';
export * from './job-role';
export * from './deployed-config';
export * from './instance-types';
