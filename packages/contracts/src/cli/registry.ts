// Writes a generated equipment registry: `tsx packages/contracts/src/cli/registry.ts [--seed N] [--scale small|city] [--out path]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateRegistry } from '../registry';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '20261128' },
    scale: { type: 'string', default: 'small' },
    out: { type: 'string' },
  },
});
if (values.scale !== 'small' && values.scale !== 'city') {
  console.error(`--scale must be small or city, got ${values.scale}`);
  process.exit(2);
}
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be an integer, got ${values.seed}`);
  process.exit(2);
}
const out = values.out
  ? resolve(values.out)
  : fileURLToPath(
      new URL(
        `../../../../infra/registry/${values.scale === 'small' ? 'equipment' : 'equipment-city'}.json`,
        import.meta.url,
      ),
    );
const file = generateRegistry({ seed, scale: values.scale });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(file, null, 1)}\n`);
const byFamily = new Map<string, number>();
for (const e of file.equipment) byFamily.set(e.family, (byFamily.get(e.family) ?? 0) + 1);
console.log(`wrote ${out}: ${file.equipment.length} equipment (revision ${file.revision})`);
console.table(Object.fromEntries(byFamily));
