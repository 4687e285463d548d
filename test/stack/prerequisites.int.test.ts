// A missing prerequisite stops the stack with one clear sentence, not a stack trace (issue 2).
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { StackError, repoRoot, stackUp } from '@ondijon/stack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers';

const execFileAsync = promisify(execFile);

// A plain TCP server that accepts and never speaks: "a port taken by a foreign process".
let foreign: net.Server;
let foreignPortNumber: number;
const sockets = new Set<net.Socket>();
beforeAll(async () => {
  foreignPortNumber = await freePort();
  foreign = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => foreign.listen(foreignPortNumber, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => foreign.close(() => resolve()));
});

const isolated = (dir: string) => ({
  dir,
  externalKafka: undefined,
  externalMqtt: undefined,
  externalRedis: undefined,
});

describe('missing prerequisites', () => {
  it('names a port taken by a foreign process and the variable to change', async () => {
    const attempt = stackUp({
      services: ['redis'],
      config: { ...isolated('/tmp/ondijon-never-created'), redisPort: foreignPortNumber },
    });
    await expect(attempt).rejects.toBeInstanceOf(StackError);
    await expect(attempt).rejects.toThrow(
      `Port ${foreignPortNumber} is in use by another process that does not answer as Redis; stop that process or choose other ports with ONDIJON_REDIS_PORT, and retry.`,
    );
  });

  it('says the same for Kafka and MQTT ports', async () => {
    await expect(
      stackUp({
        services: ['mqtt'],
        config: { ...isolated('/tmp/ondijon-never-created'), mqttPort: foreignPortNumber },
      }),
    ).rejects.toThrow(
      /^Port \d+ is in use by another process that does not answer as an MQTT broker; .*ONDIJON_MQTT_PORT/,
    );
    await expect(
      stackUp({
        services: ['kafka'],
        config: { ...isolated('/tmp/ondijon-never-created'), kafkaPort: foreignPortNumber },
      }),
    ).rejects.toThrow(
      /^Port \d+ is in use by another process that does not answer as Kafka; .*ONDIJON_KAFKA_PORT/,
    );
  });

  it('makes `pnpm stack up` print that one sentence on stderr and exit 1', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ONDIJON_REDIS_PORT: String(foreignPortNumber),
      ONDIJON_STACK_DIR: '/tmp/ondijon-never-created',
    };
    delete env.KAFKA_BROKERS;
    delete env.MQTT_URL;
    delete env.REDIS_URL;
    // Kafka and the MQTT broker of the shared stack answer on their default ports and are reused; Redis is the problem.
    const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
    const failure = await execFileAsync(tsx, [path.join(repoRoot, 'infra/stack/src/cli.ts'), 'up'], {
      env,
      cwd: repoRoot,
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    const stderr = failure!.stderr.trim();
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /^Port \d+ is in use by another process that does not answer as Redis; .*ONDIJON_REDIS_PORT/,
    );
    expect(stderr).not.toMatch(/\s+at /);
  });

  describe('with a PATH that lacks a tool', () => {
    const savedPath = process.env.PATH;
    afterEach(() => {
      process.env.PATH = savedPath;
    });
    const kafkaOnFreePorts = async (dir: string, libs: string) => ({
      ...isolated(dir),
      kafkaLibsDir: libs,
      kafkaPort: await freePort(),
      kafkaControllerPort: await freePort(),
    });

    it('explains a missing Java in one sentence', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-nojava-'));
      process.env.PATH = path.join(dir, 'empty-bin');
      const attempt = stackUp({
        services: ['kafka'],
        config: await kafkaOnFreePorts(dir, path.join(dir, 'libs')),
      });
      await expect(attempt).rejects.toBeInstanceOf(StackError);
      await expect(attempt).rejects.toThrow(
        /^Java is not installed \(no `java` on PATH\); install a JDK or JRE 17 or newer .* and retry\.$/,
      );
      rmSync(dir, { recursive: true, force: true });
    });

    it('explains a missing Maven in one sentence when the Kafka jars are not cached', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-nomvn-'));
      const bin = path.join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(
        execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim(),
        path.join(bin, 'java'),
      );
      process.env.PATH = bin;
      const attempt = stackUp({
        services: ['kafka'],
        config: await kafkaOnFreePorts(dir, path.join(dir, 'libs')),
      });
      await expect(attempt).rejects.toThrow(
        /^Maven is not installed \(no `mvn` on PATH\), .*apt-get install -y maven\) and retry\.$/,
      );
      rmSync(dir, { recursive: true, force: true });
    });
  });
});
