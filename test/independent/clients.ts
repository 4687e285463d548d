// The independent clients' driver is in the test kit (packages/test-kit/src/independent.ts), shared with
// the packages' tests; this module keeps the names the acceptance tests import from here.
export {
  ackedIds,
  independentIds,
  startIndependentPublisher,
  writeIndependentMessages,
} from '@ondijon/test-kit';
