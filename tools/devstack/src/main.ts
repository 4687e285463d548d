// Entry point of `./ondijon run`: stack, topics, ingest, processors, publisher, open-data API and the
// simulator, until Ctrl-C. Usage: `./ondijon run [--speed 720] [--faults default] [--preset small|city]
// [--duration <s>] [--reuse] [--stack-down]`. The logic is in src/run-pipeline.ts.
import { parseRunFlags, runPipeline, USAGE } from './run-pipeline';

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
