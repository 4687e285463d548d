import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { FaultConfig } from './faults';
import type { MessageTag, SimMessage } from './generate';

/** A line of a recorded or replayed stream: `{topic, payload, at}` plus, when known, the ground-truth tag. */
export interface StreamLine {
  topic: string;
  payload: string;
  at: number;
  tag?: MessageTag;
}

/** Summary of a stream's ground truth: counts by outcome, fault, expected dead-letter code and family. */
export interface Manifest {
  seed: number | null;
  from: string | null;
  to: string | null;
  registryRevision: string | null;
  faults: FaultConfig | null;
  total: number;
  byOutcome: Record<string, number>;
  byFault: Record<string, number>;
  byExpectedCode: Record<string, number>;
  byFamily: Record<string, number>;
  bursts: number;
}

/** Counts the ground truth of messages (tags missing in a bare replay file count as `unknown`). */
export class ManifestBuilder {
  private readonly m: Manifest;

  constructor(meta: Pick<Manifest, 'seed' | 'from' | 'to' | 'registryRevision' | 'faults'>) {
    this.m = { ...meta, total: 0, byOutcome: {}, byFault: {}, byExpectedCode: {}, byFamily: {}, bursts: 0 };
  }

  /** Adds one message. */
  add(line: StreamLine): void {
    const inc = (rec: Record<string, number>, key: string) => (rec[key] = (rec[key] ?? 0) + 1);
    this.m.total++;
    const tag = line.tag;
    inc(this.m.byOutcome, tag?.outcome ?? 'unknown');
    inc(this.m.byFault, tag?.fault ?? (tag ? 'none' : 'unknown'));
    if (tag?.expectedCode) inc(this.m.byExpectedCode, tag.expectedCode);
    inc(this.m.byFamily, tag?.family ?? line.topic.split('/').at(-3) ?? 'unknown');
    if (tag?.burst) this.m.bursts++;
  }

  /** The manifest so far (a copy). */
  build(): Manifest {
    return structuredClone(this.m);
  }
}

/** The manifest of a whole stream. */
export function manifestOf(
  messages: Iterable<StreamLine>,
  meta: Pick<Manifest, 'seed' | 'from' | 'to' | 'registryRevision' | 'faults'>,
): Manifest {
  const b = new ManifestBuilder(meta);
  for (const m of messages) b.add(m);
  return b.build();
}

/** Writes NDJSON lines with back-pressure. */
export class NdjsonWriter {
  private readonly out: WriteStream;

  constructor(path: string) {
    this.out = createWriteStream(path, { encoding: 'utf8' });
  }

  /** Appends one record; resolves when the stream can take more. */
  async write(record: unknown): Promise<void> {
    if (!this.out.write(`${JSON.stringify(record)}\n`)) await once(this.out, 'drain');
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}

/** Writes a stream to NDJSON (`{topic, payload, at, tag}` per line). */
export async function writeStreamFile(path: string, messages: Iterable<SimMessage>): Promise<number> {
  const w = new NdjsonWriter(path);
  let n = 0;
  for (const m of messages) {
    await w.write(m);
    n++;
  }
  await w.close();
  return n;
}

/** Reads a stream file line by line; a line that is not a `{topic, payload, at}` object fails with its line number. */
export async function* readStreamFile(path: string): AsyncGenerator<StreamLine> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue;
    const v = JSON.parse(line) as Partial<StreamLine>;
    if (typeof v.topic !== 'string' || typeof v.payload !== 'string' || typeof v.at !== 'number') {
      throw new Error(`${path}:${lineNo}: expected {topic: string, payload: string, at: number}`);
    }
    yield v as StreamLine;
  }
}
