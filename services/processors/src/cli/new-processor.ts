// `pnpm new:processor <name>`: scaffolds a windowed aggregation, registers it in the explicit list
// and writes its five-line harness test. Prints what it wrote; changes nothing if the name is taken.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the scaffolder wrote. */
export interface ScaffoldResult {
  processorFile: string;
  testFile: string;
  indexFile: string;
  exportName: string;
}

/** `winter-salt-hour` → `winterSaltHour`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Writes the processor, its test and its registration under `serviceDir` (the processors service folder). */
export function scaffoldProcessor(name: string, serviceDir: string): ScaffoldResult {
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(name))
    throw new Error(`processor name must be kebab-case (a-z, 0-9, -): ${name}`);
  const exportName = camelCase(name);
  const processorFile = join(serviceDir, 'src/processors', `${name}.ts`);
  const testFile = join(serviceDir, 'test/processors', `${name}.test.ts`);
  const indexFile = join(serviceDir, 'src/processors/index.ts');
  if (existsSync(processorFile)) throw new Error(`${processorFile} already exists`);
  const index = readFileSync(indexFile, 'utf8');
  const marker = '  // new processors above this line';
  if (!index.includes(marker)) throw new Error(`${indexFile} has no "${marker.trim()}" line`);

  writeFileSync(
    processorFile,
    `import { defineWindowedAggregation, telemetryOf, tumbling } from '@ondijon/stream';

interface Acc {
  energyWh: number;
}

/** TODO: say what this aggregates, per what, and why. */
export const ${exportName} = defineWindowedAggregation({
  name: '${name}',
  version: '1.0.0',
  description: 'TODO',
  inputs: ['tel.s1.lighting.v1'],
  output: 'agg.s1.lighting-commune-hour.v1',
  window: tumbling('1h'),
  graceMs: 5 * 60_000,
  late: 'revise',
  key: (r) => (r.value.commune ? { commune: r.value.commune } : undefined),
  init: (): Acc => ({ energyWh: 0 }),
  add: (acc, r) => {
    acc.energyWh += telemetryOf(r.value, 'streetlight')?.energyWh ?? 0;
    return acc;
  },
  result: (acc) => ({
    energyKwh: acc.energyWh / 1000,
    burningHours: 0,
    luminairesReporting: 0,
    cabinetsReporting: 0,
    faultsLamp: 0,
    faultsDriver: 0,
    faultsCommunication: 0,
    dimmedShare: null,
  }),
});
`,
  );
  writeFileSync(
    testFile,
    `import { runProcessor, telemetryEnvelope } from '@ondijon/stream';
import { expect, it } from 'vitest';
import { ${exportName} } from '../../src/processors/${name}';

const lamp = (seq: number, energyWh: number) =>
  telemetryEnvelope(
    'streetlight',
    { seq, observedAt: \`2025-01-15T18:\${String(seq).padStart(2, '0')}:00Z\`, state: 'on', dimLevelPct: 100, powerW: 50, energyWh, intervalS: 60, burningHours: 1, faults: [] },
    { equipmentId: 'SL-21231-001-001' },
  );

it('${name} sums energy per commune and hour', () => {
  const { outputs } = runProcessor(${exportName}, [lamp(1, 100), lamp(2, 150)]);
  expect(outputs.map((o) => o.value.data.values.energyKwh)).toEqual([0.25]);
});
`,
  );
  const withImport = index.replace(/^(import type .*\n)/m, `$1import { ${exportName} } from './${name}';\n`);
  writeFileSync(indexFile, withImport.replace(marker, `  ${exportName},\n${marker}`));
  return { processorFile, testFile, indexFile, exportName };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const name = process.argv[2];
  if (!name) {
    console.error('usage: pnpm new:processor <kebab-case-name>');
    process.exit(2);
  }
  try {
    const r = scaffoldProcessor(name, fileURLToPath(new URL('../../', import.meta.url)));
    console.log(
      `created ${r.processorFile}\ncreated ${r.testFile}\nregistered ${r.exportName} in ${r.indexFile}`,
    );
    console.log(`next: edit the processor, then pnpm exec vitest run --project unit ${r.testFile}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
