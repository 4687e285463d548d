// Replay of dead letters from the console: runs ingest's own replay tool (services/ingest
// `src/cli/dead-letters.ts replay --id …`, the same code path as the CLI) in a child process with the
// `replay` principal's credentials, so the console process itself never writes to Kafka. The tool reads
// the current registry and policy, writes accepted records to their telemetry topic and letters rejected
// again back to the dead-letter topic (same id, replays + 1).
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Config } from './config';

const INGEST_DIR = path.resolve(import.meta.dirname, '../../ingest');
const CONSOLE_DIR = path.resolve(import.meta.dirname, '..');

/** What became of one replayed letter. */
export interface ReplayOutcome {
  id: string;
  outcome: 'accepted' | 'rejected-again' | 'republished' | 'not-replayable';
  code?: string;
  topic?: string;
}

/** Parses the replay tool's output lines: `<id>  <outcome>[  <code>][  → <topic>]`. */
export function parseReplayOutput(stdout: string): ReplayOutcome[] {
  const out: ReplayOutcome[] = [];
  for (const line of stdout.split('\n')) {
    const m =
      /^(\S+)\s+(accepted|rejected-again|republished|not-replayable)(?:\s+(ONDIJON_[A-Z_]+))?(?:\s+→\s+(\S+))?/.exec(
        line.trim(),
      );
    if (m)
      out.push({
        id: m[1]!,
        outcome: m[2] as ReplayOutcome['outcome'],
        ...(m[3] ? { code: m[3] } : {}),
        ...(m[4] ? { topic: m[4] } : {}),
      });
  }
  return out;
}

/** The environment of a replay child: the run's Kafka and topics as the `replay` principal. */
function replayEnv(config: Readonly<Config>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'warn',
    KAFKA_BROKERS: config.KAFKA_BROKERS.join(','),
    KAFKA_TOPIC_PREFIX: config.KAFKA_TOPIC_PREFIX,
    MQTT_TOPIC_PREFIX: config.CONSOLE_MQTT_TOPIC_PREFIX,
    REGISTRY_SOURCE: 'file',
    REGISTRY_FILE: config.REPLAY_REGISTRY_FILE ?? config.REGISTRY_FILE,
    POLICY_FILE: config.POLICY_FILE,
    ONDIJON_ENV: config.ONDIJON_ENV,
    ...(config.REPLAY_KAFKA_SASL_USERNAME
      ? {
          KAFKA_SASL_USERNAME: config.REPLAY_KAFKA_SASL_USERNAME,
          KAFKA_SASL_PASSWORD: config.REPLAY_KAFKA_SASL_PASSWORD ?? '',
        }
      : {}),
    ...(config.REPLAY_ONDIJON_PSEUDONYM_SECRET
      ? { ONDIJON_PSEUDONYM_SECRET: config.REPLAY_ONDIJON_PSEUDONYM_SECRET }
      : {}),
    ...(config.REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY
      ? { ONDIJON_DEAD_LETTER_PRIVATE_KEY: config.REPLAY_ONDIJON_DEAD_LETTER_PRIVATE_KEY }
      : {}),
  };
}

/** Replays the ingest letters `ids` through ingest's pipeline; resolves with each outcome. */
export async function replayLetters(
  config: Readonly<Config>,
  ids: readonly string[],
): Promise<ReplayOutcome[]> {
  const args = ['--import', 'tsx', 'src/cli/dead-letters.ts', 'replay', ...ids.flatMap((id) => ['--id', id])];
  return runReplayChild(INGEST_DIR, args, replayEnv(config));
}

/** A stream dead letter to replay, opened by the console. */
export interface StreamLetter {
  id: string;
  kafkaTopic: string | null;
  payloadBase64: string | null;
  sensitivity: string;
}

/**
 * Replays stream dead letters: their records go back to the topics they were read from
 * (`src/cli/replay-stream.ts`, as the `replay` principal); resolves with each outcome.
 */
export async function replayStreamLetters(
  config: Readonly<Config>,
  letters: readonly StreamLetter[],
): Promise<ReplayOutcome[]> {
  const input = letters.map((l) => JSON.stringify(l)).join('\n');
  return runReplayChild(
    CONSOLE_DIR,
    ['--import', 'tsx', 'src/cli/replay-stream.ts'],
    replayEnv(config),
    input,
  );
}

function runReplayChild(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<ReplayOutcome[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const results = parseReplayOutput(stdout);
      if (results.length === 0 && code !== 0)
        reject(
          new Error(
            `replay tool exited ${code} (as ${env.KAFKA_SASL_USERNAME ?? 'no principal'}): ${stderr.trim().split('\n').slice(-6).join(' | ')}`,
          ),
        );
      else resolve(results);
    });
  });
}
