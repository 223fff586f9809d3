export * from './tarball';
export * from './atomic-write';
