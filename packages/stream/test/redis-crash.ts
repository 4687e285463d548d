// A Redis of a test's own, started from the repository's infra/redis/redis.conf (AOF on, the stack's
// fsync policy) on a free port with its data in a temporary folder, that the test can SIGKILL and
// start again on the same files. Used by the Redis crash fault tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@ondijon/test-kit';
import { Redis } from 'ioredis';

/** infra/redis/redis.conf of this repository. */
export const REDIS_CONF = fileURLToPath(new URL('../../../infra/redis/redis.conf', import.meta.url));

/** A port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** A redis-server of the test's own that can be SIGKILLed and started again on the same AOF. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly extraArgs: string[],
  ) {}

  /** Creates the folder, picks a port and starts the server (`extraArgs` override the config, e.g. `--appendfsync always`). */
  static async start(extraArgs: string[] = []): Promise<OwnRedis> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ondijon-redis-crash-'));
    const r = new OwnRedis(dir, await freePort(), extraArgs);
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server on the folder's files and waits until it answers PING (its AOF loaded). */
  async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        REDIS_CONF,
        '--port',
        String(this.port),
        '--dir',
        this.dir,
        '--logfile',
        path.join(this.dir, 'redis.log'),
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const probe = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined); // refused until the server listens
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
          if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
          return (await probe.ping()) === 'PONG';
        },
        { timeoutMs: 30_000, intervalMs: 50, message: 'own redis-server answers' },
      );
    } finally {
      probe.disconnect();
    }
  }

  /** kill -9: no shutdown, no last write. */
  async sigkill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** The AOF file Redis appends to now (Redis 7 multi-part AOF: the newest `*.incr.aof`). */
  async incrAof(): Promise<string> {
    const d = path.join(this.dir, 'appendonlydir');
    const files = (await readdir(d)).filter((f) => f.endsWith('.incr.aof'));
    const seq = (f: string) => Number(/\.(\d+)\.incr\.aof$/.exec(f)?.[1] ?? 0);
    files.sort((a, b) => seq(a) - seq(b));
    if (files.length === 0) throw new Error('no incremental AOF file');
    return path.join(d, files[files.length - 1]!);
  }

  /** Size of the incremental AOF now. */
  async aofSize(): Promise<number> {
    return (await stat(await this.incrAof())).size;
  }

  /**
   * Cuts the incremental AOF back to `size` bytes (the server must be stopped): what the disk holds
   * after a machine crash when the writes past `size` were not yet synced (`appendfsync everysec`
   * syncs once a second). A command cut in the middle is dropped at load (`aof-load-truncated`).
   */
  async cutAof(size: number): Promise<void> {
    await truncate(await this.incrAof(), size);
  }

  async destroy(): Promise<void> {
    await this.sigkill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
