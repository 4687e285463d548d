// The stack's optional S3-compatible server (issue 17, item 2): S3Proxy (Apache-2.0), a Java S3 API server
// over a directory (Apache jclouds' filesystem provider), fetched once from Maven Central as its single
// `jar-with-dependencies` into `.stack/s3/`, run on loopback ONDIJON_S3_PORT (default 18333) with one S3
// identity (AWS Signature V4) whose secret is generated under `.stack/secrets/`. Started by
// `pnpm stack up --s3` and by the test setup of the S3 tests only; the pipeline does not need it.
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { resolveConfig, StackError, which, type StackConfig } from './config';
import { fetchWithMaven } from './maven';
import { isOurs, portOpen, readPid, sleep, startDetached, stopRecorded, tail } from './proc';
import { s3Secret } from './secrets';

/** The S3Proxy release the stack runs. */
export const S3PROXY_VERSION = '4.1.0';

/** The S3 identity of the stack (access key id; its secret is `.stack/secrets/s3-ondijon.secret`). */
export const S3_ACCESS_KEY_ID = 'ondijon';

/** Port of the S3 API (ONDIJON_S3_PORT, default 18333). */
export function s3Port(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ONDIJON_S3_PORT;
  const port = raw === undefined || raw.trim() === '' ? 18_333 : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new StackError(`ONDIJON_S3_PORT=${raw} is not a port number.`);
  return port;
}

/** Where the S3 server keeps its jar, data, logs and pid. */
export function s3Dir(config: Pick<StackConfig, 'dir'>): string {
  return path.join(config.dir, 's3');
}

function s3PidFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(s3Dir(config), 's3proxy.pid.json');
}

/** Endpoint and credentials of the stack's S3 server. */
export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** File of the secret, for `OPENDATA_S3_SECRET_ACCESS_KEY_FILE`. */
  secretFile: string;
}

/** The S3 endpoint of the stack (whether it runs or not). */
export function s3Endpoint(config: Pick<StackConfig, 'dir'> = resolveConfig()): S3Endpoint {
  const { file, value } = s3Secret(config);
  return {
    endpoint: `http://127.0.0.1:${s3Port()}`,
    region: 'us-east-1',
    accessKeyId: S3_ACCESS_KEY_ID,
    secretAccessKey: value,
    secretFile: file,
  };
}

/**
 * The S3Proxy jar: `ONDIJON_S3PROXY_JAR` when set, else `.stack/s3/s3proxy-<version>.jar`, fetched once
 * with Maven (`dependency:copy` of `org.gaul:s3proxy:<version>:jar:jar-with-dependencies`).
 */
export async function ensureS3Proxy(
  config: Pick<StackConfig, 'dir'>,
  log: (line: string) => void,
): Promise<string> {
  const given = process.env.ONDIJON_S3PROXY_JAR?.trim();
  if (given) return given;
  const jar = path.join(s3Dir(config), `s3proxy-${S3PROXY_VERSION}.jar`);
  if (existsSync(jar)) return jar;
  log(`s3: resolving S3Proxy ${S3PROXY_VERSION} from Maven Central, once`);
  const staging = path.join(s3Dir(config), 'fetch.partial');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await fetchWithMaven(
      `the S3 server (S3Proxy ${S3PROXY_VERSION})`,
      [
        'dependency:copy',
        `-Dartifact=org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies`,
        `-DoutputDirectory=${staging}`,
      ],
      staging,
    );
    renameSync(path.join(staging, `s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar`), jar);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return jar;
}

/** Probes the S3 API with the stack's identity. */
export async function probeS3(ep: S3Endpoint = s3Endpoint()): Promise<{ ok: boolean; detail: string }> {
  const client = new S3Client({
    endpoint: ep.endpoint,
    region: ep.region,
    forcePathStyle: true,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    const res = await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(3_000) });
    return { ok: true, detail: `${res.Buckets?.length ?? 0} buckets` };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  } finally {
    client.destroy();
  }
}

/** Starts the stack's S3 server if it does not answer yet, and waits until it does; idempotent. */
export async function s3Up(
  options: { config?: Partial<StackConfig>; log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<S3Endpoint> {
  const config = resolveConfig(options.config);
  const log = options.log ?? (() => undefined);
  const ep = s3Endpoint(config);
  if ((await probeS3(ep)).ok) {
    log(`s3: already running (${ep.endpoint})`);
    return ep;
  }
  // One starter at a time (test files run in parallel): the others wait for it to answer.
  const lock = path.join(s3Dir(config), 'starting.lock');
  mkdirSync(s3Dir(config), { recursive: true });
  let locked = false;
  try {
    mkdirSync(lock);
    locked = true;
  } catch {
    if (Date.now() - statSync(lock).mtimeMs > 20 * 60_000) {
      rmSync(lock, { recursive: true, force: true });
      mkdirSync(lock);
      locked = true;
    }
  }
  try {
    if (locked) await startS3(config, ep, log);
    const deadline = Date.now() + (options.timeoutMs ?? 90_000);
    let last = { ok: false, detail: 'not probed' };
    while (Date.now() < deadline) {
      last = await probeS3(ep);
      if (last.ok) {
        log('s3: healthy');
        return ep;
      }
      if (locked && !isOurs(readPid(s3PidFile(config))))
        throw new StackError(
          `the S3 server (S3Proxy) exited: ${tail(path.join(s3Dir(config), 's3proxy.log'), 3)}`,
        );
      await sleep(500);
    }
    throw new StackError(`the S3 server did not answer within the deadline: ${last.detail}`);
  } finally {
    if (locked) rmSync(lock, { recursive: true, force: true });
  }
}

async function startS3(config: StackConfig, ep: S3Endpoint, log: (line: string) => void): Promise<void> {
  if (isOurs(readPid(s3PidFile(config)))) return;
  const port = s3Port();
  if (await portOpen(port))
    throw new StackError(`port ${port} is taken by another process: set ONDIJON_S3_PORT to a free port.`);
  const jar = await ensureS3Proxy(config, log);
  const java = which('java');
  if (java === undefined)
    throw new StackError('Java is needed for the S3 server (S3Proxy): install openjdk-17-jre-headless.');
  const dir = s3Dir(config);
  const data = path.join(dir, 'data');
  mkdirSync(data, { recursive: true });
  // The secret goes in a 0600 file, never on a command line.
  const properties = path.join(dir, 's3proxy.properties');
  writeFileSync(
    properties,
    [
      `s3proxy.endpoint=${ep.endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${ep.accessKeyId}`,
      `s3proxy.credential=${ep.secretAccessKey}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${data}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const record = startDetached({
    command: java,
    args: ['-Xmx256m', '-jar', jar, '--properties', properties],
    cwd: dir,
    logFile: path.join(dir, 's3proxy.log'),
    pidFile: s3PidFile(config),
    fingerprint: ['s3proxy', properties],
  });
  log(`s3: started S3Proxy pid ${record.pid} on ${ep.endpoint}`);
}

/** Stops the stack's S3 server if it started it. */
export async function s3Down(options: { config?: Partial<StackConfig> } = {}): Promise<boolean> {
  const config = resolveConfig(options.config);
  return (await stopRecorded(s3PidFile(config), 15_000)) === 'stopped';
}

/** Whether the stack started an S3 server that still runs. */
export function s3Running(options: { config?: Partial<StackConfig> } = {}): boolean {
  return isOurs(readPid(s3PidFile(resolveConfig(options.config))));
}
