// Shared private state of N publisher instances (issue 17, item 1): staged aggregates, drawn noise, the
// ε ledger and the leases live in Redis, so any instance can publish what any other staged. A release
// lease per dataset, with a fencing token, makes exactly one instance write a given dataset at a time
// (instances publish different datasets at once); a short catalogue lock, fenced too, serialises the
// read-modify-write of the store's one shared object, the catalogue. Every write after staging runs in a
// Lua script that first checks the dataset's token: an instance whose lease passed to another one can no
// longer mark, save noise or spend budget. Keys share one hash tag (one Redis Cluster slot).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { OnDijonError } from '@ondijon/contracts';
import { Cluster, type Redis } from 'ioredis';
import type { StagedAggregate } from './release';
import type { StageOutcome } from './staging';

/**
 * The Redis of the shared state: one node, or a Redis Cluster (`redis+cluster://`, createStreamRedis of
 * @ondijon/stream). Every key of a group shares its hash tag, so every script and pipeline runs on one master.
 */
export type StateRedis = Redis | Cluster;

/**
 * Loads a script and returns its SHA. On a cluster SCRIPT LOAD goes to whichever node ioredis picks, and
 * EVALSHA to the master of the keys' slot, which would answer NOSCRIPT: load it on every master.
 */
async function loadScript(redis: StateRedis, body: string): Promise<string> {
  if (!(redis instanceof Cluster)) return (await redis.script('LOAD', body)) as string;
  const cluster = redis;
  // The masters are known once the client has read the slots (at start, right after connecting).
  if (cluster.status !== 'ready')
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the Redis Cluster was not ready within 30 s')),
        30_000,
      );
      cluster.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const shas = await Promise.all(
    cluster.nodes('master').map((node) => node.script('LOAD', body) as Promise<string>),
  );
  if (shas.length === 0) throw new Error('no master of the Redis Cluster is known yet');
  return shas[0]!;
}

/** A period waiting for (or covered by) a release. */
export interface PendingPeriod {
  datasetId: string;
  day: string;
  fingerprint: string;
  maxWindowEnd: Date;
}

/** Proof of holding a lease: a token that only grows, checked by every fenced write. */
export interface Fence {
  /** The dataset of a release lease; undefined for the catalogue lock. */
  readonly datasetId?: string | undefined;
  readonly token: number;
  /**
   * The previous holder did not give the lease back (it died or lost it mid-release): the store may hold
   * its debris or a release folder not yet in the catalogue, to recover before writing.
   */
  readonly previousUnfinished: boolean;
  /** Throws ONDIJON_LEASE_LOST when the lease has passed to another instance. */
  assertHeld(): Promise<void>;
  /** Its fencing counter key and token, for a check of several fences in one script. */
  readonly fenceKey: string;
}

/** Budget spent with a noise draw: checked against the day's limit and recorded once, atomically. */
export interface BudgetSpend {
  /** Identifies the draw (spending it again is a no-op). */
  id: string;
  epsilon: number;
  epsilonPerDay: number;
}

const STAGE = `
local crev = redis.call('HGET', KEYS[5], ARGV[2])
local rev = tonumber(ARGV[3])
if crev then
  crev = tonumber(crev)
  if crev > rev then return 'stale' end
  if crev == rev then return 'unchanged' end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[2], 'v', 1)
local we = tonumber(ARGV[5])
local m = tonumber(redis.call('HGET', KEYS[2], 'we') or '0')
if we > m then redis.call('HSET', KEYS[2], 'we', ARGV[5]) end
local w = tonumber(redis.call('GET', KEYS[4]) or '0')
if we > w then redis.call('SET', KEYS[4], ARGV[5]) end
redis.call('SADD', KEYS[3], ARGV[1])
if crev then return 'revised' end
return 'new'`;

const READ_CELLS = `
return {redis.call('HGET', KEYS[2], 'v') or '0', redis.call('HGETALL', KEYS[1])}`;

const FENCE_CHECK = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('ONDIJON_LEASE_LOST') end`;

const MARK = `${FENCE_CHECK}
if ARGV[2] == 'released' then
  redis.call('HSET', KEYS[2], 'rv', ARGV[3], 'rfp', ARGV[4])
  redis.call('HDEL', KEYS[2], 'bv')
else
  redis.call('HSET', KEYS[2], 'bv', ARGV[3])
end
return 1`;

// KEYS: fence, noise, ledger, spends. ARGV: token, noise JSON, day, spend id, ε, ε per day.
const SAVE_NOISE = `${FENCE_CHECK}
local eps = tonumber(ARGV[5])
if eps > 0 and redis.call('HEXISTS', KEYS[4], ARGV[4]) == 0 then
  local spent = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
  if spent + eps > tonumber(ARGV[6]) + 1e-9 then
    return redis.error_reply('ONDIJON_BUDGET_EXHAUSTED ' .. spent)
  end
  redis.call('HINCRBYFLOAT', KEYS[3], ARGV[3], ARGV[5])
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
end
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

// KEYS: lease, fence, clean. ARGV: holder, ttl ms. The token grows at each acquisition, never
// otherwise; \`clean\` holds the token of the last holder that gave the lease back.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  local clean = tonumber(redis.call('GET', KEYS[3]) or '0')
  if token == 1 or clean == token - 1 then return {token, 0} end
  return {token, 1}
end
return {0, 0}`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

// KEYS: lease, clean. ARGV: holder, token, clean (1: the holder finished what it started; 0: it failed
// mid-way, so the next holder recovers first).
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[2]) end
  return 1
end
return 0`;

// KEYS: fencing counters; ARGV: the tokens held. 1 when every one is still current.
const CHECK = `
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) ~= ARGV[i] then return 0 end
end
return 1`;

function leaseLost(details: Record<string, unknown>): OnDijonError {
  return new OnDijonError(
    'ONDIJON_LEASE_LOST',
    'the release lease passed to another publisher instance; the write was refused',
    { details },
  );
}

/** Turns a script's error reply into the error it stands for. */
function scriptError(err: unknown, details: Record<string, unknown>): unknown {
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.includes('ONDIJON_LEASE_LOST')) return leaseLost(details);
  if (msg.includes('ONDIJON_BUDGET_EXHAUSTED'))
    return new OnDijonError('ONDIJON_BUDGET_EXHAUSTED', 'the privacy budget of the day is spent', {
      details: { ...details, spent: Number(msg.split('ONDIJON_BUDGET_EXHAUSTED ')[1]) },
    });
  return err;
}

/** Runs a script by SHA, loading it on NOSCRIPT. */
class Script {
  #sha: string | undefined;
  constructor(readonly body: string) {}
  /** The script's SHA, loading it first when needed (for pipelines). */
  async sha(redis: StateRedis): Promise<string> {
    this.#sha ??= await loadScript(redis, this.body);
    return this.#sha;
  }
  /** Forgets the SHA (after NOSCRIPT: Redis lost its script cache). */
  reset(): void {
    this.#sha = undefined;
  }
  async run(redis: StateRedis, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (this.#sha) {
      try {
        return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      }
    }
    this.#sha = await loadScript(redis, this.body);
    return redis.evalsha(this.#sha, keys.length, ...keys, ...args);
  }
}

const scripts = {
  stage: new Script(STAGE),
  readCells: new Script(READ_CELLS),
  mark: new Script(MARK),
  saveNoise: new Script(SAVE_NOISE),
  acquire: new Script(ACQUIRE),
  renew: new Script(RENEW),
  release: new Script(RELEASE),
  check: new Script(CHECK),
};

/** Key names of one publisher group's state: `publisher:{<group>}:…` (the publisher ACL user's prefix). */
export class StateKeys {
  readonly #p: string;
  constructor(groupId: string) {
    this.#p = `publisher:{${groupId}}:`;
  }
  get prefix(): string {
    return this.#p;
  }
  periods = () => `${this.#p}periods`;
  cells = (period: string) => `${this.#p}cells:${period}`;
  revs = (period: string) => `${this.#p}revs:${period}`;
  meta = (period: string) => `${this.#p}meta:${period}`;
  watermark = (datasetId: string) => `${this.#p}wm:${datasetId}`;
  noise = (period: string) => `${this.#p}noise:${period}`;
  /** ε spent per day of a dataset (hash day → ε). */
  ledger = (datasetId: string) => `${this.#p}ledger:${datasetId}`;
  spends = (period: string) => `${this.#p}spends:${period}`;
  /** Release lease of one dataset, its fencing counter and its last clean hand-back. */
  lease = (datasetId: string) => `${this.#p}lease:${datasetId}`;
  fence = (datasetId: string) => `${this.#p}fence:${datasetId}`;
  clean = (datasetId: string) => `${this.#p}clean:${datasetId}`;
  /** The catalogue lock (held only while the catalogue and the dataset files are rewritten). */
  catalogueLock = () => `${this.#p}catalogue-lock`;
  catalogueFence = () => `${this.#p}catalogue-fence`;
  catalogueClean = () => `${this.#p}catalogue-clean`;
}

const periodOf = (datasetId: string, day: string) => `${datasetId}|${day}`;

/**
 * Staged aggregates in Redis, shared by every instance of a publisher group. `stage` buffers; `flush`
 * applies the buffer (latest revision per key wins, atomically per cell), after which Kafka offsets may
 * be committed. The outcome `stage` returns is this instance's view; the script is the authority.
 */
export class RedisStaging {
  readonly #redis: StateRedis;
  readonly #k: StateKeys;
  #buffer: { period: string; agg: StagedAggregate }[] = [];
  /** Revision of each key this instance staged or saw (for the outcome `stage` reports). */
  readonly #seen = new Map<string, number>();
  /** Version of each period as last read by `cells`, for `mark`. */
  readonly #read = new Map<string, string>();
  #size = 0;

  constructor(redis: StateRedis, keys: StateKeys) {
    this.#redis = redis;
    this.#k = keys;
  }

  /** Nothing to load: the state is in Redis. */
  async load(): Promise<void> {
    await this.pending();
  }

  stage(datasetId: string, day: string, agg: StagedAggregate): StageOutcome {
    const period = periodOf(datasetId, day);
    const seenKey = `${period}|${agg.key}`;
    const prev = this.#seen.get(seenKey);
    if (prev !== undefined && prev > agg.data.revision) return 'stale';
    if (prev !== undefined && prev === agg.data.revision) return 'unchanged';
    // A view, not the authority: bounded so that a long run does not grow it without end.
    if (this.#seen.size >= 200_000) this.#seen.clear();
    this.#seen.set(seenKey, agg.data.revision);
    this.#buffer.push({ period, agg });
    return prev === undefined ? 'new' : 'revised';
  }

  async flush(): Promise<void> {
    const batch = this.#buffer;
    if (batch.length === 0) return;
    this.#buffer = [];
    try {
      // One pipeline, one round trip for the batch (each script stays atomic per cell): a batch staged
      // one script at a time could outlast the Kafka session under load.
      const sha = await scripts.stage.sha(this.#redis);
      const pipe = this.#redis.pipeline();
      for (const { period, agg } of batch) {
        const [datasetId] = period.split('|') as [string];
        pipe.evalsha(
          sha,
          5,
          this.#k.cells(period),
          this.#k.meta(period),
          this.#k.periods(),
          this.#k.watermark(datasetId),
          this.#k.revs(period),
          period,
          agg.key,
          agg.data.revision,
          JSON.stringify(agg),
          Date.parse(agg.data.windowEnd),
        );
      }
      for (const [err] of (await pipe.exec()) ?? []) {
        if (err) {
          if (err.message.startsWith('NOSCRIPT')) scripts.stage.reset();
          throw err;
        }
      }
    } catch (err) {
      // Not durable: keep the batch so the next flush retries (offsets are not committed meanwhile).
      this.#buffer = [...batch, ...this.#buffer];
      throw err;
    }
  }

  async pending(): Promise<PendingPeriod[]> {
    const periods = (await this.#redis.smembers(this.#k.periods())).sort();
    if (periods.length === 0) return [];
    const pipe = this.#redis.pipeline();
    for (const p of periods) {
      pipe.hmget(this.#k.meta(p), 'v', 'rv', 'bv', 'we');
      pipe.hlen(this.#k.cells(p));
    }
    const res = (await pipe.exec()) ?? [];
    const out: PendingPeriod[] = [];
    let size = 0;
    for (const [i, p] of periods.entries()) {
      const [err, meta] = res[2 * i]!;
      if (err) throw err;
      size += Number(res[2 * i + 1]![1] ?? 0);
      const [v, rv, bv, we] = meta as (string | null)[];
      if (v === null || v === rv || v === bv) continue;
      const [datasetId, day] = p.split('|') as [string, string];
      // The fingerprint of a version is only needed for the log; the version decides what is pending.
      out.push({ datasetId, day, fingerprint: `v${v}`, maxWindowEnd: new Date(Number(we ?? 0)) });
    }
    this.#size = size;
    return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.datasetId < b.datasetId ? -1 : 1));
  }

  async watermark(datasetId: string): Promise<Date | undefined> {
    const w = await this.#redis.get(this.#k.watermark(datasetId));
    return w === null ? undefined : new Date(Number(w));
  }

  async cells(datasetId: string, day: string): Promise<StagedAggregate[]> {
    const period = periodOf(datasetId, day);
    const [version, flat] = (await scripts.readCells.run(
      this.#redis,
      [this.#k.cells(period), this.#k.meta(period)],
      [],
    )) as [string, string[]];
    this.#read.set(period, version);
    const out: StagedAggregate[] = [];
    for (let i = 1; i < flat.length; i += 2) out.push(JSON.parse(flat[i]!) as StagedAggregate);
    return out;
  }

  async mark(
    datasetId: string,
    day: string,
    fingerprint: string,
    outcome: 'released' | 'blocked',
    fence?: Fence,
  ): Promise<void> {
    const period = periodOf(datasetId, day);
    const version = this.#read.get(period);
    if (version === undefined) return;
    if (!fence) throw leaseLost({ datasetId, day, reason: 'no lease held' });
    try {
      await scripts.mark.run(
        this.#redis,
        [this.#k.fence(datasetId), this.#k.meta(period)],
        [String(fence.token), outcome, version, fingerprint],
      );
    } catch (err) {
      throw scriptError(err, { datasetId, day, token: fence.token });
    }
  }

  get size(): number {
    return this.#size;
  }
}

/** Drawn noise per period in Redis; saving it spends the ε of a fresh draw atomically, once. */
export class RedisNoiseStore {
  readonly #redis: StateRedis;
  readonly #k: StateKeys;
  constructor(redis: StateRedis, keys: StateKeys) {
    this.#redis = redis;
    this.#k = keys;
  }

  async load(datasetId: string, day: string): Promise<[string, number, string, number][]> {
    const v = await this.#redis.get(this.#k.noise(periodOf(datasetId, day)));
    return v === null ? [] : (JSON.parse(v) as [string, number, string, number][]);
  }

  async save(
    datasetId: string,
    day: string,
    entries: [string, number, string, number][],
    fence?: Fence,
    spend?: BudgetSpend,
  ): Promise<void> {
    if (!fence) throw leaseLost({ datasetId, day, reason: 'no lease held' });
    const period = periodOf(datasetId, day);
    try {
      await scripts.saveNoise.run(
        this.#redis,
        [this.#k.fence(datasetId), this.#k.noise(period), this.#k.ledger(datasetId), this.#k.spends(period)],
        [
          String(fence.token),
          JSON.stringify(entries),
          day,
          spend?.id ?? '',
          spend?.epsilon ?? 0,
          spend?.epsilonPerDay ?? 0,
        ],
      );
    } catch (err) {
      throw scriptError(err, { datasetId, day, token: fence.token });
    }
  }

  /** ε the ledger holds for one day of a dataset. */
  async spentOn(datasetId: string, day: string): Promise<number> {
    return Number((await this.#redis.hget(this.#k.ledger(datasetId), day)) ?? 0);
  }

  /** ε spent per day of a dataset, as the ledger holds it. */
  async spent(datasetId: string): Promise<Record<string, number>> {
    const h = await this.#redis.hgetall(this.#k.ledger(datasetId));
    return Object.fromEntries(Object.entries(h).map(([d, v]) => [d, Number(v)]));
  }
}

/** What the publisher core needs of the release leases. */
export interface LeaseRunner {
  /**
   * Runs `fn` holding the release lease of `datasetId`; resolves to undefined without running it when
   * another instance holds it (after waiting up to `waitMs`).
   */
  run<T>(
    datasetId: string,
    fn: (fence: Fence) => Promise<T>,
    waitMs?: number,
  ): Promise<{ value: T } | undefined>;
}

/** Options of a lease. */
export interface LeaseOptions {
  /** Time to live of the lease, ms; renewed every third of it while held. */
  ttlMs: number;
  /** Called when a renewal finds the lease gone (the fenced writes then fail). */
  onLost?: (token: number, name: string) => void;
  /** Interval of the attempts while waiting for the lease, ms (default: a quarter of the TTL, at most 250). */
  pollMs?: number;
}

/** A lease held: its fence, and how to give it back. */
export interface HeldLease {
  readonly fence: Fence;
  /** Gives the lease back; `clean` false makes the next holder recover first. */
  release(clean: boolean): Promise<void>;
}

/** Throws ONDIJON_LEASE_LOST unless every fence given is still current (one script, one round trip). */
export async function assertFences(redis: StateRedis, fences: readonly Fence[]): Promise<void> {
  if (fences.length === 0) return;
  const ok = Number(
    await scripts.check.run(
      redis,
      fences.map((f) => f.fenceKey),
      fences.map((f) => String(f.token)),
    ),
  );
  if (ok !== 1)
    throw leaseLost({
      fences: fences.map((f) => ({ datasetId: f.datasetId ?? 'catalogue', token: f.token })),
    });
}

/**
 * One lease of a publisher group (SET NX PX + a fencing counter + the token of the last clean hand-back):
 * the instance holding it is the only one that writes what it guards.
 */
export class FencedLease {
  readonly #redis: StateRedis;
  readonly #keys: { lease: string; fence: string; clean: string };
  readonly #o: LeaseOptions;
  readonly #datasetId: string | undefined;
  readonly #instance = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  constructor(
    redis: StateRedis,
    keys: { lease: string; fence: string; clean: string },
    options: LeaseOptions,
    datasetId?: string,
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#o = options;
    this.#datasetId = datasetId;
  }

  /** Acquires the lease, waiting up to `waitMs`; undefined when another instance still holds it. */
  async acquire(waitMs = 0): Promise<HeldLease | undefined> {
    const holder = `${this.#instance}:${randomBytes(4).toString('hex')}`;
    const deadline = Date.now() + waitMs;
    const poll = this.#o.pollMs ?? Math.min(250, this.#o.ttlMs / 4);
    let token = 0;
    let unfinished = false;
    for (;;) {
      const [t, u] = (await scripts.acquire.run(
        this.#redis,
        [this.#keys.lease, this.#keys.fence, this.#keys.clean],
        [holder, this.#o.ttlMs],
      )) as [number, number];
      token = Number(t);
      unfinished = Number(u) === 1;
      if (token > 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, poll));
    }
    if (token === 0) return undefined;
    let lost = false;
    const renew = setInterval(() => {
      scripts.renew
        .run(this.#redis, [this.#keys.lease], [holder, this.#o.ttlMs])
        .then((ok) => {
          if (Number(ok) !== 1 && !lost) {
            lost = true;
            this.#o.onLost?.(token, this.#keys.lease);
          }
        })
        .catch(() => undefined);
    }, this.#o.ttlMs / 3);
    renew.unref();
    const fence: Fence = {
      datasetId: this.#datasetId,
      token,
      previousUnfinished: unfinished,
      fenceKey: this.#keys.fence,
      assertHeld: () => assertFences(this.#redis, [fence]),
    };
    return {
      fence,
      release: async (clean) => {
        clearInterval(renew);
        await scripts.release
          .run(this.#redis, [this.#keys.lease, this.#keys.clean], [holder, token, clean ? '1' : '0'])
          .catch(() => undefined);
      },
    };
  }

  /** Runs `fn` holding the lease (see `acquire`); a throw hands the lease back as unfinished. */
  async run<T>(fn: (fence: Fence) => Promise<T>, waitMs = 0): Promise<{ value: T } | undefined> {
    const held = await this.acquire(waitMs);
    if (!held) return undefined;
    let clean = false;
    try {
      const value = await fn(held.fence);
      clean = true;
      return { value };
    } finally {
      await held.release(clean);
    }
  }
}

/**
 * The release leases of a publisher group, one per dataset: the instance holding a dataset's lease is
 * the only one that writes that dataset's releases and its state after staging; different datasets are
 * published by different instances at once.
 */
export class ReleaseLease implements LeaseRunner {
  readonly #redis: StateRedis;
  readonly #k: StateKeys;
  readonly #o: LeaseOptions;
  readonly #leases = new Map<string, FencedLease>();

  constructor(redis: StateRedis, keys: StateKeys, options: LeaseOptions) {
    this.#redis = redis;
    this.#k = keys;
    this.#o = options;
  }

  #lease(datasetId: string): FencedLease {
    let l = this.#leases.get(datasetId);
    if (!l) {
      l = new FencedLease(
        this.#redis,
        { lease: this.#k.lease(datasetId), fence: this.#k.fence(datasetId), clean: this.#k.clean(datasetId) },
        this.#o,
        datasetId,
      );
      this.#leases.set(datasetId, l);
    }
    return l;
  }

  run<T>(datasetId: string, fn: (fence: Fence) => Promise<T>, waitMs = 0): Promise<{ value: T } | undefined> {
    return this.#lease(datasetId).run(fn, waitMs);
  }
}

/** The catalogue lock of a publisher group: short, fenced, waited for (see docs/scale-out.md). */
export function catalogueLease(redis: StateRedis, keys: StateKeys, options: LeaseOptions): FencedLease {
  return new FencedLease(
    redis,
    { lease: keys.catalogueLock(), fence: keys.catalogueFence(), clean: keys.catalogueClean() },
    { pollMs: 20, ...options },
  );
}
