export * from './tarball';
