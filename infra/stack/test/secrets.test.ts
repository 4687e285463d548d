import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceSecretEnvsOf } from '../src/secrets';

describe('serviceSecretEnvsOf', () => {
  const fresh = () => mkdtempSync(path.join(tmpdir(), 'ondijon-service-secrets-'));

  it("gives the replay tool the MQTT replay principal's login, as a file (0600), beside its Kafka principal", () => {
    const dir = fresh();
    const { replay } = serviceSecretEnvsOf({ dir, externalKafka: undefined, externalRedis: undefined });
    expect(replay).toMatchObject({
      KAFKA_SASL_USERNAME: 'replay',
      MQTT_USERNAME: 'replay',
      MQTT_PASSWORD_FILE: path.join(dir, 'secrets', 'mqtt', 'replay.password'),
    });
    expect(readFileSync(replay.MQTT_PASSWORD_FILE!, 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(replay.MQTT_PASSWORD_FILE!).mode & 0o777).toBe(0o600);
    expect(Object.values(replay).join('\n')).not.toContain(
      readFileSync(replay.MQTT_PASSWORD_FILE!, 'utf8').trim(),
    );
    // Generates every secret of a fresh stack (key pairs, SCRAM hashes): slow on a loaded machine.
  }, 60_000);

  it('leaves the MQTT login to the environment with an external broker', () => {
    const { replay } = serviceSecretEnvsOf({
      dir: fresh(),
      externalKafka: undefined,
      externalRedis: undefined,
      externalMqtt: 'mqtt://broker.example:1883',
    });
    expect(replay.MQTT_USERNAME).toBeUndefined();
    expect(replay.MQTT_PASSWORD_FILE).toBeUndefined();
  }, 60_000);
});
