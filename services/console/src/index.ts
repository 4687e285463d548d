export * from './app';
export * from './config';
export * from './mask';
export * from './state';
export * from './users';
