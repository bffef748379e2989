/**
 * Two projects over one global setup (s3rver and Azurite on free 127.0.0.1 ports,
 * test/support/emulators.ts): `quick` for a developer's loop (`npm run test:quick`) and `slow` for
 * the suites that package with serverless, run every conformance case through real servers, or
 * fuzz over HTTP. `npm test` runs both.
 */
const SLOW = [
  'test/deploy/serverless.test.ts',
  'test/conformance/conformance.test.ts',
  'test/adapters/local-server.test.ts',
  'test/adapters/container-contracts.test.ts',
  'test/server/server-process.test.ts',
  'test/security/fuzz-http.test.ts',
  'test/security/fuzz-core.test.ts',
  'test/storage/store-contract.test.ts',
  'test/storage/warm-cache.test.ts',
];

/** @type {import('jest').Config} */
const common = {
  testEnvironment: '<rootDir>/test/support/ort-environment.js',
  roots: ['<rootDir>/test'],
  // middy, jose and hyparquet ship ESM only; jest's CommonJS runtime needs them transpiled.
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
    '^.+\\.js$': '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|jose|hyparquet|hyparquet-writer)/)'],
};

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  // A global option: jest ignores it inside a project.
  testTimeout: 30000,
  projects: [
    {
      ...common,
      displayName: 'quick',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...SLOW.map((file) => file.replace(/\./g, '\\.'))],
    },
    { ...common, displayName: 'slow', testMatch: SLOW.map((file) => `<rootDir>/${file}`) },
  ],
};
