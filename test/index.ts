// @ondijon/acceptance: the shared integration-test harness (test/setup), for tests in any package.
export * from './setup/index';
export * from './setup/s3';
export * from './setup/pipeline';
