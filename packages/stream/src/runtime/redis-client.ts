import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

// The runtime's Redis connection: one node (`redis://…`, `rediss://…`) or a Redis Cluster
// (`redis+cluster://[user:password@]host:port[,host:port…]`: the seed nodes; the client learns the
// rest of the cluster from them). Every script of the store touches the keys of one processor only,
// all under its hash tag `{<processor>}` (redis-store.ts), so each runs on one node of a cluster.

/** The Redis client the stream runtime takes: a single node or a cluster (ioredis). */
export type StreamRedis = Redis | Cluster;

/** Whether a URL names a Redis Cluster (`redis+cluster://`, or `rediss+cluster://` for TLS). */
export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//.test(url);
}

/**
 * Connects to Redis as the URL says: a single node, or a Redis Cluster from a `redis+cluster://` URL
 * with one or more seed nodes (the credentials of the URL, or of `options`, are used on every node).
 */
export function createStreamRedis(
  url: string,
  options: RedisOptions = {},
  cluster: ClusterOptions = {},
): StreamRedis {
  if (!isClusterUrl(url)) return new Redis(url, options);
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)/.exec(url);
  if (!m) throw new Error('a redis+cluster URL needs at least one host:port');
  const [, scheme, auth, hosts] = m;
  let username: string | undefined;
  let password: string | undefined;
  if (auth) {
    const i = auth.indexOf(':');
    username = decodeURIComponent(i < 0 ? auth : auth.slice(0, i)) || undefined;
    password = i < 0 ? undefined : decodeURIComponent(auth.slice(i + 1));
  }
  const nodes = hosts!.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: i < 0 ? hp : hp.slice(0, i), port: i < 0 ? 6379 : Number(hp.slice(i + 1)) };
  });
  const { enableAutoPipelining, maxRetriesPerRequest, ...redisOptions } = options;
  return new Cluster(nodes, {
    ...cluster,
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    redisOptions: {
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(scheme === 'rediss' ? { tls: {} } : {}),
      ...redisOptions,
      ...(maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest }),
    },
  });
}
