import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running; `integration` talks to the real stack (Kafka, Mosquitto,
// Redis) found by test/setup/global-setup.ts. Integration files are named *.int.test.ts.
export default defineConfig({
  test: {
    // The JSON report feeds the one-line summary that .ci/run prints.
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.test.ts',
            'services/*/test/**/*.test.ts',
            'infra/stack/test/**/*.test.ts',
            'test/reference/**/*.test.ts',
            'test/repo/**/*.test.ts',
            'tools/*/test/**/*.test.ts',
          ],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
          // Groups run in order: unit (0), integration (1), fault (2); vitest requires one
          // maxWorkers per group.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: ['**/node_modules/**', '**/*.fault.int.test.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores and one shared broker: run integration files two at a time.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Tests that stop or restart shared services (Kafka down for 30 s, SIGKILLed brokers) run
        // alone, after everything else, so they cannot break tests that share the broker.
        test: {
          name: 'fault',
          include: ['**/*.fault.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
