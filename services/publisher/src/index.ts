export { buildApp, type PublisherApp, type PublisherDeps } from './app';
export { loadPublisherConfig, PublisherEnv, type PublisherConfig } from './config';
export { DATASET_SPECS, METROPOLE_ID, type DatasetSpec } from './datasets';
export {
  PublisherCore,
  type ConsumedRecord,
  type IngestResult,
  type PublishOutcome,
  type ReleaseTrigger,
} from './publisher';
export { deadLetterOf, deadLetterHeaders, type RejectedRecord } from './dead-letter';
export { buildRelease, fingerprintOf, type StagedAggregate } from './release';
export { preReleaseCheck, type CheckFailure } from './check';
