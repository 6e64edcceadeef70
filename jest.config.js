/** Every test talks to the real PostgreSQL and RabbitMQ named by DATABASE_URL / AMQP_URL. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // The ESM-only packages (openid-client and its oauth4webapi and jose; oidc-provider for the test
  // provider) are compiled to CommonJS with our own sources: Jest's module system cannot load ES
  // modules without --experimental-vm-modules. tsconfig.jest.json turns `await import(x)`, which
  // the build keeps as a real import() (nodenext), into require() and allows JS.
  transform: { '^.+\\.[cm]?[jt]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  transformIgnorePatterns: ['/node_modules/(?!(openid-client|oauth4webapi|jose|oidc-provider)/)'],
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 120000,
  // Two cores: more parallel files only make them compete for the database and createrepo_c.
  maxWorkers: 2,
};
