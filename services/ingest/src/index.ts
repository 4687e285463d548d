export { buildApp, type IngestApp, type IngestDeps, type Readiness } from './app';
export { IngestEnv, loadIngestConfig, DEFAULT_REGISTRY_FILE, type IngestConfig } from './config';
export { ingestPolicyOf, loadIngestPolicy } from './governance';
export * from './pipeline';
export type { IngestPolicy, PolicyOutcome } from './policy';
export * from './registry';
export * from './registry-topic';
export * from './replay';
