// The one door of the kafkajs speed-ups: installed only when called, over the pinned kafkajs version,
// unless switched off, and never once kafkajs produced or fetched with its own modules.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DECODE_MESSAGES_MODULE } from '../../src/kafkajs-speedups/fetch-decoder';
import { KAFKAJS_PINNED_VERSION, kafkajsVersion } from '../../src/kafkajs-speedups/index';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'kafkajs-speedups');

/** Runs `script` in a fresh Node process (its own module cache) and returns what it printed. */
const run = (script: string, env: Record<string, string> = {}) =>
  execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ONDIJON_KAFKAJS_SPEEDUPS: '', ...env },
    cwd: dir,
    encoding: 'utf8',
  }).trim();

const speedups = JSON.stringify(path.join(dir, 'index.ts'));
const report = `console.log(JSON.stringify([s.recordEncoder, s.fetchDecoder, m.fastRecordEncoding(), m.fastFetchDecoding(), s.reason ?? '']));`;

describe('kafkajs speed-ups', () => {
  it('are written against the kafkajs version the workspace pins (an upgrade must pass these tests first)', () => {
    expect(kafkajsVersion()).toBe(KAFKAJS_PINNED_VERSION);
  });

  it('are not installed by importing @ondijon/kafka, but by its factories, once (idempotent)', () => {
    const index = JSON.stringify(path.join(dir, '..', 'index.ts'));
    const state = `console.log(JSON.stringify([m.fastRecordEncoding(), m.fastFetchDecoding()]));`;
    expect(run(`const m = await import(${index}); ${state}`)).toBe('[false,false]');
    const client = `m.createKafka({ brokers: ['127.0.0.1:1'], clientId: 'unit', security: {} });`;
    expect(run(`const m = await import(${index}); ${client} ${state}`)).toBe('[true,true]');
    const consumer = `m.createConsumer(new (await import('kafkajs')).Kafka({ brokers: ['127.0.0.1:1'], clientId: 'unit' }), { groupId: 'g', topics: ['t'] });`;
    expect(run(`const m = await import(${index}); ${consumer} ${state}`)).toBe('[true,true]');
    expect(
      run(
        `const m = await import(${index}); ${client} const a = m.installKafkajsSpeedups(); ${consumer} console.log(JSON.stringify([a === m.installKafkajsSpeedups(), a]));`,
      ),
    ).toBe('[true,{"recordEncoder":true,"fetchDecoder":true}]');
  }, 60_000);

  it('are not installed by importing their modules: only by installKafkajsSpeedups', () => {
    expect(
      run(
        `const m = await import(${speedups}); console.log(JSON.stringify([m.fastRecordEncoding(), m.fastFetchDecoding()]));`,
      ),
    ).toBe('[false,false]');
    expect(run(`const m = await import(${speedups}); const s = m.installKafkajsSpeedups(); ${report}`)).toBe(
      '[true,true,true,true,""]',
    );
  }, 60_000);

  it('stay out when switched off, and once kafkajs captured its own decoder', () => {
    expect(
      run(`const m = await import(${speedups}); const s = m.installKafkajsSpeedups(); ${report}`, {
        ONDIJON_KAFKAJS_SPEEDUPS: 'off',
      }),
    ).toBe('[false,false,false,false,"ONDIJON_KAFKAJS_SPEEDUPS=off"]');
    const loadDecodeMessages = `import { createRequire } from 'node:module';
      createRequire(import.meta.url)(${JSON.stringify(DECODE_MESSAGES_MODULE)});`;
    expect(
      run(
        `${loadDecodeMessages} const m = await import(${speedups}); const s = m.installKafkajsSpeedups(); ${report}`,
      ),
    ).toBe('[false,false,false,false,"kafkajs produced or fetched before the install"]');
  }, 60_000);
});
