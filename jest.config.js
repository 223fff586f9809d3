const fs = require('fs');
const path = require('path');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Tests live beside the constructs and blueprints they cover, and under test/.
  roots: ['test', 'constructs', 'blueprints', 'lib', 'local'].map((d) => path.join(__dirname, d)).filter((d) => fs.existsSync(d)),
  testMatch: ['**/*.test.ts'],
  // Transpile only: `npm test` type-checks the whole project with tsc before jest runs, so a
  // per-file type-check in the transformer would only repeat that work in every worker.
  transform: {
    '^.+\\.tsx?$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
      sourceMaps: 'inline',
    }],
  },
  setupFiles: ['<rootDir>/test/support/jest-setup.js'],
  snapshotSerializers: ['<rootDir>/test/support/asset-hash-serializer.js'],
  // Jest keeps a core for itself by default (one worker on a 2-core machine); the main process only
  // collects results, so every core runs tests.
  maxWorkers: '100%',
  testTimeout: 120000,
};
