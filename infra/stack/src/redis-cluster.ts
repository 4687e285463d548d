// The stack's optional Redis Cluster (issue 17, item 3): three masters, no replicas, each Debian's
// redis-server in cluster mode with infra/redis/redis.conf (AOF on) and the stack's ACL users (the same
// file as the single node), data under `.stack/redis-cluster/<port>/`. Ports ONDIJON_REDIS_CLUSTER_PORT
// (default 16380) and the next two; cluster bus ports 10000 above. Started by
// `pnpm stack up --redis-cluster` and by the cluster fault test; the pipeline does not need it.
// What it guarantees (no replicas) is in docs/scale-out.md: a master that dies takes its slots away
// until it is back on its AOF; the other masters keep serving.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { infraDir, resolveConfig, StackError, which, type StackConfig } from './config';
import { isOurs, portOpen, readPid, sleep, startDetached, stopRecorded, tail, type PidRecord } from './proc';
import { redisAclFile, redisSecret, type RedisUser } from './secrets';

/** Masters of the stack's Redis Cluster. */
export const REDIS_CLUSTER_NODES = 3;

const SLOTS = 16_384;

/** Client ports of the cluster's nodes (ONDIJON_REDIS_CLUSTER_PORT and the next two; default 16380). */
export function redisClusterPorts(env: NodeJS.ProcessEnv = process.env): number[] {
  const raw = env.ONDIJON_REDIS_CLUSTER_PORT;
  const base = raw === undefined || raw.trim() === '' ? 16_380 : Number(raw);
  if (!Number.isInteger(base) || base < 1 || base + REDIS_CLUSTER_NODES - 1 + 10_000 > 65_535)
    throw new StackError(
      `ONDIJON_REDIS_CLUSTER_PORT=${raw} is not a port number (it and the next two, plus 10000 each for the cluster bus).`,
    );
  return Array.from({ length: REDIS_CLUSTER_NODES }, (_, i) => base + i);
}

/** Folder of one node (AOF, nodes.conf, log, pid). */
export function redisClusterDir(config: Pick<StackConfig, 'dir'>, port: number): string {
  return path.join(config.dir, 'redis-cluster', String(port));
}

function pidFile(config: Pick<StackConfig, 'dir'>, port: number): string {
  return path.join(redisClusterDir(config, port), 'redis.pid.json');
}

/** `redis+cluster://<user>:<password>@127.0.0.1:<port>,…` of a stack user (the stream runtime's cluster URL). */
export function redisClusterUrl(user: RedisUser, options: { config?: Partial<StackConfig> } = {}): string {
  const config = resolveConfig(options.config);
  const hosts = redisClusterPorts()
    .map((p) => `127.0.0.1:${p}`)
    .join(',');
  return `redis+cluster://${user}:${encodeURIComponent(redisSecret(config, user).value)}@${hosts}`;
}

function adminClient(config: StackConfig, port: number): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    username: 'admin',
    password: redisSecret(config, 'admin').value,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
  });
  c.on('error', () => undefined);
  return c;
}

async function withNode<T>(config: StackConfig, port: number, f: (c: Redis) => Promise<T>): Promise<T> {
  const c = adminClient(config, port);
  try {
    await c.connect();
    return await f(c);
  } finally {
    c.disconnect();
  }
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Each node's `CLUSTER INFO` state, or why it does not answer. */
export async function probeRedisCluster(
  options: { config?: Partial<StackConfig> } = {},
): Promise<{ ok: boolean; detail: string }> {
  const config = resolveConfig(options.config);
  const states: string[] = [];
  for (const port of redisClusterPorts()) {
    try {
      const info = await withNode(config, port, (c) => c.cluster('INFO'));
      const state = infoField(info, 'cluster_state');
      const known = infoField(info, 'cluster_known_nodes');
      const assigned = infoField(info, 'cluster_slots_assigned');
      states.push(`${port} ${state} nodes=${known} slots=${assigned}`);
    } catch (err) {
      states.push(`${port} down (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  const ok = states.every((s) => s.includes(` ok nodes=${REDIS_CLUSTER_NODES} slots=${SLOTS}`));
  return { ok, detail: states.join('; ') };
}

/** Starts one node of the cluster (no wait). */
function startNode(config: StackConfig, port: number, binary: string, aclFile: string): PidRecord {
  const dir = redisClusterDir(config, port);
  mkdirSync(dir, { recursive: true });
  return startDetached({
    command: binary,
    args: [
      path.join(infraDir, 'redis', 'redis.conf'),
      '--port',
      String(port),
      '--dir',
      dir,
      '--logfile',
      path.join(dir, 'redis.log'),
      '--aclfile',
      aclFile,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      // A node that stops answering is flagged failing after this long.
      '--cluster-node-timeout',
      '3000',
      // The other masters keep serving their slots while one master is down.
      '--cluster-require-full-coverage',
      'no',
    ],
    cwd: dir,
    logFile: path.join(dir, 'stdout.log'),
    pidFile: pidFile(config, port),
    fingerprint: ['redis-server', String(port)],
  });
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(300);
  }
  throw new StackError(
    `${what} within ${Math.round(timeoutMs / 1000)} s${last instanceof Error ? ` (${last.message})` : ''}; read the logs under .stack/redis-cluster and retry.`,
  );
}

/**
 * Starts the nodes that are not running, forms the cluster the first time (CLUSTER MEET, a third of
 * the slots on each master) and waits until every node says `cluster_state:ok`; idempotent. A node
 * restarted on its folder rejoins from its nodes.conf with its slots.
 */
export async function redisClusterUp(
  options: { config?: Partial<StackConfig>; log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<number[]> {
  const config = resolveConfig(options.config);
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const ports = redisClusterPorts();
  if ((await probeRedisCluster(options)).ok) {
    log(`redis-cluster: already running (${ports.join(',')})`);
    return ports;
  }
  const binary = which('redis-server');
  if (binary === undefined)
    throw new StackError(
      'redis-server is needed for the Redis Cluster: install the Debian package redis-server.',
    );
  // Written once: rewriting it while a node started a moment ago still reads it would lose its users.
  const aclFile = redisAclFile(config);
  for (const port of ports) {
    if (isOurs(readPid(pidFile(config, port)))) continue;
    if (await portOpen(port))
      throw new StackError(
        `port ${port} is taken by another process: set ONDIJON_REDIS_CLUSTER_PORT to the first of three free ports.`,
      );
    const record = startNode(config, port, binary, aclFile);
    log(`redis-cluster: started pid ${record.pid} on 127.0.0.1:${port}`);
  }
  for (const port of ports)
    await waitFor(
      `Redis Cluster node ${port} did not answer (${tail(path.join(redisClusterDir(config, port), 'redis.log'), 2)})`,
      () => withNode(config, port, async (c) => ((await c.ping()) === 'PONG' ? true : undefined)),
      timeoutMs,
    );
  // First start: no node holds a slot yet. Give each master its third and introduce them.
  const assigned = await Promise.all(
    ports.map((p) =>
      withNode(config, p, async (c) => Number(infoField(await c.cluster('INFO'), 'cluster_slots_assigned'))),
    ),
  );
  if (assigned.every((n) => n === 0)) {
    log('redis-cluster: forming the cluster (3 masters, no replicas)');
    for (const [i, port] of ports.entries()) {
      const from = Math.floor((i * SLOTS) / ports.length);
      const to = Math.floor(((i + 1) * SLOTS) / ports.length) - 1;
      await withNode(config, port, (c) => c.call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to)));
    }
    for (const port of ports.slice(1))
      await withNode(config, ports[0]!, (c) => c.call('CLUSTER', 'MEET', '127.0.0.1', String(port)));
  }
  await waitFor(
    'the Redis Cluster did not reach cluster_state:ok',
    async () => ((await probeRedisCluster(options)).ok ? true : undefined),
    timeoutMs,
  );
  log(`redis-cluster: healthy (${ports.join(',')})`);
  return ports;
}

/** Stops the nodes the stack started (data kept). */
export async function redisClusterDown(options: { config?: Partial<StackConfig> } = {}): Promise<number[]> {
  const config = resolveConfig(options.config);
  const stopped: number[] = [];
  await Promise.all(
    redisClusterPorts().map(async (port) => {
      if ((await stopRecorded(pidFile(config, port), 10_000)) === 'stopped') stopped.push(port);
    }),
  );
  return stopped;
}

/** Whether the stack started any node of the cluster that still runs. */
export function redisClusterRunning(options: { config?: Partial<StackConfig> } = {}): boolean {
  const config = resolveConfig(options.config);
  return redisClusterPorts().some((p) => isOurs(readPid(pidFile(config, p))));
}

/** SIGKILLs one node of the cluster (fault tests: no shutdown, no final AOF write). */
export function killRedisClusterNode(port: number, options: { config?: Partial<StackConfig> } = {}): void {
  const record = readPid(pidFile(resolveConfig(options.config), port));
  if (isOurs(record)) process.kill(record.pid, 'SIGKILL');
}

/** The port of the master that serves a key (by `CLUSTER KEYSLOT` and `CLUSTER SHARDS`-free slot ranges). */
export async function redisClusterNodeOf(
  key: string,
  options: { config?: Partial<StackConfig> } = {},
): Promise<number> {
  const config = resolveConfig(options.config);
  const ports = redisClusterPorts();
  const slots = await withNode(config, ports[0]!, (c) => c.cluster('SLOTS'));
  const slot = await withNode(config, ports[0]!, (c) => c.cluster('KEYSLOT', key));
  const range = slots.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new StackError(`no node of the Redis Cluster serves slot ${slot}`);
  return Number(range[2]?.[1]);
}
