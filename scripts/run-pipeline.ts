// The one-command pipeline: stack, topics, ingest, processors, publisher, open-data API and the
// simulator, until Ctrl-C. Usage: `tsx scripts/run-pipeline.ts [--speed 720] [--faults default]
// [--preset small|city] [--duration <s>] [--reuse] [--stack-down]`. The logic is in
// test/e2e/run-pipeline.ts (the acceptance package depends on everything it starts).
import { parseRunFlags, runPipeline, USAGE } from '../test/e2e/run-pipeline';

let options;
try {
  options = parseRunFlags(process.argv.slice(2));
} catch (err) {
  process.stderr.write(
    `${err instanceof Error && err.message !== 'usage' ? `${err.message}\n` : ''}${USAGE}\n`,
  );
  process.exit(2);
}
runPipeline(options).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `run-pipeline failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
