const fs = require('fs');
const path = require('path');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Tests live beside the constructs and blueprints they cover, and under test/.
  roots: ['test', 'constructs', 'blueprints', 'lib'].map((d) => path.join(__dirname, d)).filter((d) => fs.existsSync(d)),
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': 'ts-jest',
  },
  snapshotSerializers: ['<rootDir>/test/support/asset-hash-serializer.js'],
  testTimeout: 120000,
};
