export { buildApp, type AppDeps, type OpendataApiApp } from './app';
export { ConfigSchema, loadApiConfig, testConfig, type Config } from './config';
export * from './responses';
