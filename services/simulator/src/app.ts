import { writeFile } from 'node:fs/promises';
import type { Logger } from '@ondijon/service-kit';
import { intervalsFor, parseDuration, parseStart, registryFileFor, type SimulatorConfig } from './config';
import { buildFleet } from './fleet';
import { iterateStream } from './generate';
import {
  ManifestBuilder,
  type Manifest,
  NdjsonWriter,
  readStreamFile,
  type StreamLine,
} from './ground-truth';
import {
  connectPublisher,
  operatorLoginsFromDir,
  type Publisher,
  type PublisherOptions,
} from './mqtt-publisher';
import { emptyStats, Progress, type RunStats } from './progress';
import { loadRegistry } from './registry';

/** What the simulator needs from outside; everything has a default. */
export interface SimulatorDeps {
  log: Logger;
  /** Opens the MQTT publisher (tests may pass a fake). */
  connect?: (options: PublisherOptions) => Promise<Publisher>;
  /** Wall clock, ms. */
  now?: () => number;
  /** Terminal for the live progress line (process.stdout in main.ts). */
  out?: NodeJS.WriteStream;
}

/** A simulator run. */
export interface SimulatorApp {
  /** Loads the registry, connects and starts publishing in the background. */
  start(): Promise<void>;
  /** Stops publishing, waits for in-flight PUBACKs, closes files and connections. */
  close(): Promise<void>;
  /** Settles when a finite stream has been fully published and acknowledged (or the run was closed). */
  readonly done: Promise<{ stats: RunStats; manifest: Manifest }>;
}

/** Builds the simulator (CONTRIBUTING.md rule 1): nothing happens until `start()`. */
export function buildApp(config: SimulatorConfig, deps: SimulatorDeps): SimulatorApp {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const connect = deps.connect ?? connectPublisher;
  const stats = emptyStats(now());
  let stopping = false;
  let publisher: Publisher | undefined;
  let recorder: NdjsonWriter | undefined;
  let progress: Progress | undefined;
  let loop: Promise<void> | undefined;
  let manifest: ManifestBuilder | undefined;
  let resolveDone!: (v: { stats: RunStats; manifest: Manifest }) => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<{ stats: RunStats; manifest: Manifest }>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // A wake-up for sleeps, so close() does not wait out a long pacing delay.
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function source(): Promise<{
    lines: AsyncIterable<StreamLine> | Iterable<StreamLine>;
    meta: ConstructorParameters<typeof ManifestBuilder>[0];
  }> {
    if (config.SIM_REPLAY_FILE !== '') {
      return {
        lines: readStreamFile(config.SIM_REPLAY_FILE),
        meta: { seed: null, from: null, to: null, registryRevision: null, faults: null },
      };
    }
    const registry = await loadRegistry(registryFileFor(config), config.SIM_REGISTRY_SEED, config.SIM_PRESET);
    const fleet = buildFleet(registry, {
      seed: config.SIM_SEED,
      fraction: config.SIM_FLEET_FRACTION,
      intervals: intervalsFor(config),
    });
    const from = parseStart(config.SIM_START, now());
    const to = config.SIM_DURATION === '' ? Infinity : from + parseDuration(config.SIM_DURATION);
    log.info(
      {
        registry: registry.source,
        revision: registry.revision,
        devices: fleet.devices.length,
        from: new Date(from).toISOString(),
        to: Number.isFinite(to) ? new Date(to).toISOString() : null,
      },
      'fleet ready',
    );
    return {
      lines: iterateStream(fleet, from, to, config.SIM_SEED, config.SIM_FAULTS),
      meta: {
        seed: config.SIM_SEED,
        from: new Date(from).toISOString(),
        to: Number.isFinite(to) ? new Date(to).toISOString() : null,
        registryRevision: registry.revision,
        faults: config.SIM_FAULTS,
      },
    };
  }

  async function run(lines: AsyncIterable<StreamLine> | Iterable<StreamLine>): Promise<void> {
    const speed = config.SIM_SPEED;
    let simStart: number | undefined;
    const wallStart = now();
    const pending = new Set<Promise<void>>();
    // Acks settle in any order: records are appended one at a time.
    let recording: Promise<void> = Promise.resolve();
    for await (const line of lines) {
      if (stopping) break;
      if (config.SIM_COUNT > 0 && stats.sent >= config.SIM_COUNT) break;
      simStart ??= line.at;
      // Pace: simulated time runs `speed` times faster than the wall clock…
      if (Number.isFinite(speed)) {
        const due = wallStart + (line.at - simStart) / speed;
        while (!stopping && now() < due - 2) await sleep(Math.min(1000, due - now()));
      }
      // …but never ahead of it: an observation from the future would be rejected (ONDIJON_TIME_IN_FUTURE).
      if (config.SIM_CLAMP_TO_NOW)
        while (!stopping && now() < line.at) await sleep(Math.min(1000, line.at - now()));
      if (stopping) break;
      stats.sent++;
      const family = line.tag?.family ?? line.topic.split('/').at(-3) ?? 'unknown';
      stats.byFamily[family] = (stats.byFamily[family] ?? 0) + 1;
      stats.simTime = new Date(line.at).toISOString();
      manifest!.add(line);
      if (!publisher) {
        await recorder?.write(line);
        continue;
      }
      const key = line.tag?.equipmentId ?? line.topic;
      const sentAt = now();
      // The topic's operator segment: with per-operator logins, that operator's gateway publishes it.
      const operator = line.topic.split('/')[3] ?? '';
      const { ack } = await publisher.publish(
        config.SIM_TOPIC_PREFIX + line.topic,
        line.payload,
        key,
        operator,
      );
      const p = ack.then(async ({ reasonCode }) => {
        const ackedAt = now();
        if (reasonCode === 0) stats.acked++;
        else if (reasonCode > 0) {
          const k = `0x${reasonCode.toString(16)}`;
          stats.rejectedByReason[k] = (stats.rejectedByReason[k] ?? 0) + 1;
        } else stats.errors++;
        if (recorder) {
          const r = recorder;
          // Wall-clock send and PUBACK times: what end-to-end latency is measured from.
          recording = recording.then(() => r.write({ ...line, reasonCode, sentAt, ackedAt }));
          await recording;
        }
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await Promise.all(pending);
  }

  return {
    done,
    async start() {
      const src = await source();
      manifest = new ManifestBuilder(src.meta);
      if (config.SIM_RECORD_FILE !== '') recorder = new NdjsonWriter(config.SIM_RECORD_FILE);
      if (!config.SIM_DRY_RUN) {
        publisher = await connect({
          url: config.MQTT_URL,
          // Each operator as its own principal (as real gateways log in) when its passwords are given;
          // else one principal for everything (an external broker's, or none).
          ...(config.SIM_MQTT_PASSWORDS_DIR !== ''
            ? { operatorLogin: operatorLoginsFromDir(config.SIM_MQTT_PASSWORDS_DIR) }
            : config.MQTT_USERNAME !== undefined
              ? { username: config.MQTT_USERNAME, password: config.MQTT_PASSWORD }
              : {}),
          connections: config.SIM_CONNECTIONS,
          clientIdPrefix: config.SIM_CLIENT_ID_PREFIX,
          maxInflight: config.SIM_MAX_INFLIGHT,
          log,
        });
        log.info(
          config.SIM_MQTT_PASSWORDS_DIR !== ''
            ? { logins: 'per-operator', connections: 'one per operator' }
            : { logins: config.MQTT_USERNAME ?? 'anonymous', connections: config.SIM_CONNECTIONS },
          'mqtt connected',
        );
      }
      progress = new Progress(stats, log, deps.out, config.SIM_PROGRESS_MS, now);
      progress.start();
      loop = run(src.lines).then(
        async () => {
          stats.finishedAt = now();
          progress?.stop();
          await recorder?.close();
          recorder = undefined;
          const m = manifest!.build();
          if (config.SIM_MANIFEST_FILE !== '')
            await writeFile(config.SIM_MANIFEST_FILE, `${JSON.stringify({ ...m, stats }, null, 2)}\n`);
          const rejected = Object.values(stats.rejectedByReason).reduce((a, b) => a + b, 0);
          log.info(
            {
              sent: stats.sent,
              acked: stats.acked,
              rejected,
              errors: stats.errors,
              ms: stats.finishedAt - stats.startedAt,
            },
            'stream finished',
          );
          resolveDone({ stats, manifest: m });
        },
        (err: unknown) => {
          progress?.stop();
          rejectDone(err);
        },
      );
    },
    async close() {
      stopping = true;
      wake?.();
      await loop?.catch(() => undefined);
      await publisher?.close();
      publisher = undefined;
    },
  };
}
