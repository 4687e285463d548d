export * from './classify';
export * from './lineage';
export * from './policy';
export * from './policy-schema';
export * from './pseudonymise';
export * from './anonymisation/index';
export * from './register';
export * from './seal';
