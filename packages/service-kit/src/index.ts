export * from './config';
export * from './logger';
export * from './metrics';
export * from './probes';
export * from './shutdown';
export * from './admin-auth';
export * from './password';
