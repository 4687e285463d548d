// @ondijon/devstack: the development runner behind `./ondijon run` (src/main.ts), and the pieces the
// end-to-end test and benchmark share with it: starting services as child processes, the plan of a run
// (topic namespace, ports, environments), and the pruning of earlier runs.
export * from './harness';
export * from './pipeline';
export * from './prune-runs';
export { parseRunFlags, runPipeline, USAGE, type RunPipelineOptions } from './run-pipeline';
