// Prints the one closing line CI reads, `N passed, N failed[, N skipped]`, from vitest's JSON report.
// A missing or unreadable report counts as one failure: CI must never read silence as success.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'reports/vitest.json';
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file that failed to load has no test results but is a failure.
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed += 1;
  }
  // Vitest reports run-level errors (bad config, unhandled errors) only through `success`.
  if (report.success === false && failed === 0) failed = 1;
  // Static gates (format, lint, type-check) that failed before the tests ran: one failure each.
  failed += readStaticFailures();
} catch (err) {
  process.stderr.write(
    `test-summary: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  failed = Math.max(failed, 1);
}
function readStaticFailures() {
  try {
    return readFileSync('reports/static-failures.txt', 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
