// The stack's optional S3-compatible server (issue 17, item 2): SeaweedFS (Apache-2.0), built once from
// the Go module proxy (infra/s3/go.mod pins the version) into `.stack/s3/bin/weed`, run as one `weed
// server` (master, volume, filer and S3 gateway) on loopback ports from ONDIJON_S3_PORT (default 18333)
// upwards, with one S3 identity whose secret is generated under `.stack/secrets/`. Started by
// `pnpm stack up --s3` and by the test setup of the S3 tests only; the pipeline does not need it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { infraDir, resolveConfig, StackError, which, type StackConfig } from './config';
import { isOurs, portOpen, readPid, sleep, startDetached, stopRecorded, tail } from './proc';
import { s3Secret } from './secrets';

/** The S3 identity of the stack (access key id; its secret is `.stack/secrets/s3-ondijon.secret`). */
export const S3_ACCESS_KEY_ID = 'ondijon';

/** Ports of the S3 server: the S3 API on `base`, SeaweedFS' own servers on the next ones. */
export function s3Ports(env: NodeJS.ProcessEnv = process.env) {
  const raw = env.ONDIJON_S3_PORT;
  const base = raw === undefined || raw.trim() === '' ? 18_333 : Number(raw);
  if (!Number.isInteger(base) || base < 1 || base > 65_520)
    throw new StackError(`ONDIJON_S3_PORT=${raw} is not a port number below 65520.`);
  return {
    s3: base,
    master: base + 1,
    volume: base + 2,
    filer: base + 3,
    masterGrpc: base + 4,
    volumeGrpc: base + 5,
    filerGrpc: base + 6,
    s3Grpc: base + 7,
  };
}

/** Where the S3 server keeps its binary, data, logs and pid. */
export function s3Dir(config: Pick<StackConfig, 'dir'>): string {
  return path.join(config.dir, 's3');
}

function s3PidFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(s3Dir(config), 'weed.pid.json');
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
    endpoint: `http://127.0.0.1:${s3Ports().s3}`,
    region: 'us-east-1',
    accessKeyId: S3_ACCESS_KEY_ID,
    secretAccessKey: value,
    secretFile: file,
  };
}

/**
 * The `weed` binary: `ONDIJON_WEED` or `weed` on the PATH when present, else `.stack/s3/bin/weed`, built
 * on first use with `go build` from infra/s3 (the Go module proxy; a Go toolchain is needed, and Go
 * fetches the version infra/s3/go.mod asks for when the installed one is older).
 */
export function ensureWeed(config: Pick<StackConfig, 'dir'>, log: (line: string) => void): string {
  const given = process.env.ONDIJON_WEED?.trim();
  if (given) return given;
  const onPath = which('weed');
  if (onPath) return onPath;
  const bin = path.join(s3Dir(config), 'bin', 'weed');
  if (existsSync(bin)) return bin;
  if (!which('go'))
    throw new StackError(
      'the S3 server (SeaweedFS) is built with Go, which is missing: install Go 1.21 or newer (apt-get install golang-go) and retry.',
    );
  mkdirSync(path.dirname(bin), { recursive: true });
  log('s3: building SeaweedFS (weed) from the Go module proxy, once (several minutes)');
  const started = Date.now();
  const r = spawnSync(
    'go',
    ['build', '-trimpath', '-ldflags=-s -w', '-o', bin, 'github.com/seaweedfs/seaweedfs/weed'],
    {
      cwd: path.join(infraDir, 's3'),
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'auto' },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    },
  );
  if (r.status !== 0)
    throw new StackError(
      `building SeaweedFS failed (go build in infra/s3): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`,
    );
  log(`s3: SeaweedFS built in ${Math.round((Date.now() - started) / 1000)} s (${bin})`);
  return bin;
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
  const ports = s3Ports();
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
    if (locked) await startS3(config, ep, ports, log);
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
          `the S3 server (SeaweedFS) exited: ${tail(path.join(s3Dir(config), 'weed.log'), 3)}`,
        );
      await sleep(500);
    }
    throw new StackError(`the S3 server did not answer within the deadline: ${last.detail}`);
  } finally {
    if (locked) rmSync(lock, { recursive: true, force: true });
  }
}

async function startS3(
  config: StackConfig,
  ep: S3Endpoint,
  ports: ReturnType<typeof s3Ports>,
  log: (line: string) => void,
): Promise<void> {
  if (!isOurs(readPid(s3PidFile(config)))) {
    for (const p of Object.values(ports))
      if (await portOpen(p))
        throw new StackError(
          `port ${p} is taken by another process: set ONDIJON_S3_PORT to a free range of 8 ports.`,
        );
    const weed = ensureWeed(config, log);
    const dir = s3Dir(config);
    const data = path.join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const identities = path.join(dir, 's3-identities.json');
    writeFileSync(
      identities,
      JSON.stringify({
        identities: [
          {
            name: S3_ACCESS_KEY_ID,
            credentials: [{ accessKey: ep.accessKeyId, secretKey: ep.secretAccessKey }],
            actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
          },
        ],
      }),
      { mode: 0o600 },
    );
    const record = startDetached({
      command: weed,
      args: [
        'server',
        '-ip=127.0.0.1',
        '-ip.bind=127.0.0.1',
        `-dir=${data}`,
        `-master.port=${ports.master}`,
        `-master.port.grpc=${ports.masterGrpc}`,
        '-master.volumeSizeLimitMB=64',
        `-volume.port=${ports.volume}`,
        `-volume.port.grpc=${ports.volumeGrpc}`,
        '-volume.max=16',
        '-filer',
        `-filer.port=${ports.filer}`,
        `-filer.port.grpc=${ports.filerGrpc}`,
        `-filer.localSocket=${path.join(dir, 'filer.sock')}`,
        '-s3',
        `-s3.port=${ports.s3}`,
        `-s3.port.grpc=${ports.s3Grpc}`,
        '-s3.port.iceberg=0',
        '-s3.port.lance=0',
        `-s3.config=${identities}`,
      ],
      cwd: dir,
      logFile: path.join(dir, 'weed.log'),
      pidFile: s3PidFile(config),
      fingerprint: ['weed', `-s3.port=${ports.s3}`],
    });
    log(`s3: started SeaweedFS pid ${record.pid} on ${ep.endpoint}`);
  }
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
