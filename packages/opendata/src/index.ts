export * from './constants';
export {
  fsBackend,
  openBackend,
  s3Backend,
  type ObjectInfo,
  type ReleaseUpload,
  type S3StoreOptions,
  type StoreBackend,
} from './backend';
export { castCell, csvCell, parseCsv, parseTypedCsv, toCsv, isIsoDateTimeWithOffset } from './csv';
export { replaceFileAtomic, sha256 } from './durable-fs';
export {
  rowsToFeatureCollection,
  stringifyFeatureCollection,
  type FeatureCollection,
  type PointFeature,
} from './geojson';
export { RELEASE_FILES, MEDIA_TYPES, formatReleaseId, layout, type ReleaseFileName } from './layout';
export * from './reader';
export { recoverStore, verifyReleaseFolder, type RecoveryReport } from './recover';
export * from './schemas';
export {
  WRITE_STEPS,
  createStoreWriter,
  withStatusField,
  type ReleaseInfo,
  type StoreLogger,
  type StoreWriter,
  type StoreWriterOptions,
  type WriteReleaseInput,
  type WriteStep,
} from './writer';
export { EXAMPLE_METADATA, EXAMPLE_SCHEMA, exampleNotes, exampleRelease, exampleRows } from './example';
export { s3OptionsOf, storeBackendOf, storeEnv, storeLocationOf, type StoreConfig } from './store-config';
