export * from './budget';
export * from './coarsening';
export * from './dominance';
export * from './noise';
export * from './rng';
export * from './secondary';
export * from './threshold';
