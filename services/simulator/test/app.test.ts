import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '@ondijon/service-kit';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { flagsToEnv, loadSimulatorConfig, parseDuration, parseStart } from '../src/config';
import { operatorLoginsFromDir, type Publisher, type PublisherOptions } from '../src/mqtt-publisher';

/** A publisher that answers PUBACK 0x99 (payload format invalid) for non-JSON payloads, like ingest would. */
function fakePublisher(sent: { topic: string; payload: string }[]): () => Promise<Publisher> {
  return async () => ({
    async publish(topic, payload) {
      sent.push({ topic, payload });
      let ok = true;
      try {
        JSON.parse(payload);
      } catch {
        ok = false;
      }
      return { ack: Promise.resolve({ reasonCode: ok ? 0 : 0x99 }) };
    },
    inFlight: () => 0,
    close: async () => undefined,
  });
}

const base = {
  SIM_START: '2026-01-12T00:00:00Z',
  SIM_SPEED: 'max',
  SIM_REGISTRY_FILE: '',
  SIM_FLEET_FRACTION: '0.2',
  LOG_LEVEL: 'silent',
};

describe('simulator app', () => {
  it('publishes a bounded stream, counts PUBACK reason codes and records the ground truth', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-'));
    const record = path.join(dir, 'rec.ndjson');
    const config = loadSimulatorConfig({
      ...base,
      SIM_COUNT: '3000',
      SIM_FAULTS: 'malformedJson=0.05',
      SIM_RECORD_FILE: record,
      SIM_TOPIC_PREFIX: 't/x/',
    });
    const sent: { topic: string; payload: string }[] = [];
    const app = buildApp(config, { log: silentLogger(), connect: fakePublisher(sent) });
    await app.start();
    const { stats, manifest } = await app.done;
    await app.close();
    expect(stats.sent).toBe(3000);
    expect(sent).toHaveLength(3000);
    expect(sent.every((m) => m.topic.startsWith('t/x/ondijon/v1/'))).toBe(true);
    expect(stats.rejectedByReason['0x99']).toBe(manifest.byExpectedCode.ONDIJON_PAYLOAD_NOT_JSON);
    expect(stats.acked + stats.rejectedByReason['0x99']!).toBe(3000);
    const lines = (await readFile(record, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tag: { outcome: string }; reasonCode: number });
    expect(lines).toHaveLength(3000);
    for (const l of lines) expect(l.reasonCode === 0).toBe(l.tag.outcome !== 'rejected');
  });

  it('replays a recorded file exactly', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-'));
    const record = path.join(dir, 'dry.ndjson');
    const dry = buildApp(
      loadSimulatorConfig({
        ...base,
        SIM_DURATION: '1h',
        SIM_DRY_RUN: 'true',
        SIM_RECORD_FILE: record,
        SIM_FAULTS: 'default',
      }),
      { log: silentLogger() },
    );
    await dry.start();
    const recorded = await dry.done;
    await dry.close();
    const sent: { topic: string; payload: string }[] = [];
    const replay = buildApp(loadSimulatorConfig({ ...base, SIM_REPLAY_FILE: record }), {
      log: silentLogger(),
      connect: fakePublisher(sent),
    });
    await replay.start();
    const replayed = await replay.done;
    await replay.close();
    expect(replayed.stats.sent).toBe(recorded.stats.sent);
    const lines = (await readFile(record, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { topic: string; payload: string });
    expect(sent).toEqual(lines.map((l) => ({ topic: l.topic, payload: l.payload })));
    expect(replayed.manifest.byOutcome).toEqual(recorded.manifest.byOutcome);
  });

  it('stops pacing when closed', async () => {
    const app = buildApp(loadSimulatorConfig({ ...base, SIM_SPEED: '1', SIM_CLAMP_TO_NOW: 'false' }), {
      log: silentLogger(),
      connect: fakePublisher([]),
    });
    await app.start();
    const t0 = Date.now();
    await app.close();
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('config', () => {
  it('maps flags onto SIM_* variables and parses durations and starts', () => {
    expect(flagsToEnv(['--count', '10', '--dry-run', '--faults=default', '--mqtt-url', 'mqtt://x'])).toEqual({
      SIM_COUNT: '10',
      SIM_DRY_RUN: 'true',
      SIM_FAULTS: 'default',
      MQTT_URL: 'mqtt://x',
    });
    expect(parseDuration('26h')).toBe(26 * 3_600_000);
    expect(parseStart('now-1d', Date.parse('2026-02-02T10:30:00Z'))).toBe(Date.parse('2026-02-01T10:00:00Z'));
    expect(() => loadSimulatorConfig({ SIM_SPEED: '-1', SIM_FAULTS: 'bogus=1' })).toThrow(
      /SIM_SPEED[\s\S]*SIM_FAULTS|SIM_FAULTS[\s\S]*SIM_SPEED/,
    );
  });
});

describe('per-operator logins', () => {
  it("publishes each message through the connection of its topic's operator, logged in as that operator", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-logins-'));
    for (const name of ['citelum', 'bouygues-es', 'dijon-metropole', 'eiffage-route', 'admin', 'ingest'])
      await writeFile(path.join(dir, `${name}.password`), `pw-${name}\n`);
    const config = loadSimulatorConfig({
      ...base,
      SIM_COUNT: '2000',
      SIM_FAULTS: 'spoofedOperator=0.05',
      SIM_MQTT_PASSWORDS_DIR: dir,
      MQTT_USERNAME: 'admin',
      MQTT_PASSWORD: 'not-used',
    });
    const byOperator: { topic: string; operator: string | undefined }[] = [];
    let options: PublisherOptions | undefined;
    const app = buildApp(config, {
      log: silentLogger(),
      connect: async (o) => {
        options = o;
        return {
          async publish(topic, _payload, _key, operator) {
            byOperator.push({ topic, operator });
            return { ack: Promise.resolve({ reasonCode: 0 }) };
          },
          inFlight: () => 0,
          close: async () => undefined,
        };
      },
    });
    await app.start();
    await app.done;
    await app.close();
    // The single principal is not used: each operator logs in as itself.
    expect(options?.username).toBeUndefined();
    expect(options?.operatorLogin?.('citelum')).toEqual({ username: 'citelum', password: 'pw-citelum' });
    expect(byOperator).toHaveLength(2000);
    for (const m of byOperator) expect(m.topic.split('/')[3]).toBe(m.operator);
    expect(new Set(byOperator.map((m) => m.operator)).size).toBeGreaterThan(2);
  });

  it('never logs in as a service principal, nor with a name that is not an operator code', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-logins-'));
    for (const name of ['admin', 'ingest', 'citelum'])
      await writeFile(path.join(dir, `${name}.password`), `pw-${name}`);
    const login = operatorLoginsFromDir(dir);
    expect(login('admin')).toBeUndefined();
    expect(login('ingest')).toBeUndefined();
    expect(login('../citelum')).toBeUndefined();
    expect(login('unknown-operator')).toBeUndefined();
    expect(login('citelum')).toEqual({ username: 'citelum', password: 'pw-citelum' });
  });
});
