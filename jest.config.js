/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/support/ort-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // middy and jose ship ESM only; jest's CommonJS runtime needs them transpiled.
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
    '^.+\\.js$': '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|jose)/)'],
  // s3rver and Azurite on free 127.0.0.1 ports for the storage tests (test/support/emulators.ts).
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
