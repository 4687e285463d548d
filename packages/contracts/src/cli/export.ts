// `pnpm contracts:export`: JSON Schemas of every message into docs/schemas/, then the governance
// register (docs/governance/register.md) by running the governance CLI in a child process, because
// contracts must not depend on any other package of ours (docs/architecture.md, "Parts").
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { LateRecord, LightingCommuneHour, SignalStatus, TrafficFlow, WinterCommuneDay } from '../aggregates';
import { BinaryHeaders } from '../cloudevents-binary';
import { DeadLetter } from '../dead-letter';
import { Envelope, Lineage } from '../envelope';
import { Equipment, EquipmentRegistryFile } from '../equipment';
import { FAMILIES } from '../families';
import { TOPICS } from '../kafka-topics';
import { storedTelemetrySchemas, telemetrySchemas } from '../telemetry';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const outDir = join(root, 'docs', 'schemas');
const BASE_ID = 'https://data.metropole-dijon.fr/ondijon/schemas/';

const messages: Record<string, { schema: z.ZodType; title: string; io?: 'input' | 'output' }> = {
  'envelope.v1': {
    schema: Envelope,
    title: 'CloudEvents 1.0 envelope with OnDijon extensions (data untyped)',
  },
  'lineage.v1': { schema: Lineage, title: 'Lineage extension of the envelope' },
  'cloudevents-kafka-binary-headers.v1': {
    schema: BinaryHeaders,
    title:
      'Kafka record headers of a CloudEvent in binary content mode (telemetry and aggregate topics; the value is `data`)',
  },
  'dead-letter.v1': { schema: DeadLetter, title: 'Dead-letter record', io: 'input' },
  'equipment.v1': { schema: Equipment, title: 'Equipment registry entry (S0)' },
  'equipment-registry-file.v1': { schema: EquipmentRegistryFile, title: 'Equipment registry file' },
  'late-record.v1': { schema: LateRecord, title: 'Late record routed aside by a processor' },
  'aggregate.lighting-commune-hour.v1': {
    schema: LightingCommuneHour,
    title: 'Lighting per commune and hour',
    io: 'input',
  },
  'aggregate.traffic-flow.v1': {
    schema: TrafficFlow,
    title: 'Traffic flow per intersection or commune',
    io: 'input',
  },
  'aggregate.signal-status.v1': {
    schema: SignalStatus,
    title: 'Signal status per intersection or commune and hour',
    io: 'input',
  },
  'aggregate.winter-commune-day.v1': {
    schema: WinterCommuneDay,
    title: 'Winter service per commune and day',
    io: 'input',
  },
};
for (const family of FAMILIES) {
  messages[`telemetry.${family}.v1`] = {
    schema: telemetrySchemas[family],
    title: `Telemetry an equipment of family ${family} publishes on MQTT`,
    io: 'input',
  };
  messages[`stored-telemetry.${family}.v1`] = {
    schema: storedTelemetrySchemas[family],
    title: `${family} telemetry as stored on Kafka after the policy's field actions`,
  };
}
for (const spec of Object.values(TOPICS)) {
  messages[`topic.${spec.name}`] = {
    schema: spec.schema,
    title: `Record value of Kafka topic ${spec.name} (${spec.class}): ${spec.description}`,
    io: 'input',
  };
}

mkdirSync(outDir, { recursive: true });
// Start clean so a removed message does not leave a stale schema behind.
for (const f of readdirSync(outDir)) if (f.endsWith('.json')) rmSync(join(outDir, f));
for (const [name, m] of Object.entries(messages)) {
  const json = z.toJSONSchema(m.schema, { io: m.io ?? 'output', unrepresentable: 'any' });
  const doc = { $id: `${BASE_ID}${name}.json`, title: m.title, ...json };
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(messages).length} JSON Schemas to ${outDir}`);

const registerCli = join(root, 'packages', 'governance', 'src', 'cli', 'register.ts');
const child = spawnSync(process.execPath, [...process.execArgv, registerCli], { stdio: 'inherit' });
if (child.status !== 0) {
  console.error(`governance register failed (${registerCli}), exit ${child.status ?? child.signal}`);
  process.exit(1);
}

// The access matrix of docs/security.md is generated from the same registry (infra/stack owns the Redis part).
const securityCli = join(root, 'infra', 'stack', 'src', 'security-doc-cli.ts');
const security = spawnSync(process.execPath, [...process.execArgv, securityCli], { stdio: 'inherit' });
if (security.status !== 0) {
  console.error(`security doc failed (${securityCli}), exit ${security.status ?? security.signal}`);
  process.exit(1);
}
