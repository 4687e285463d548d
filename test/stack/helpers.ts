import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ARTEMIS_VERSION,
  repoRoot,
  resolveConfig,
  stackDown,
  stackUp,
  type StackConfig,
} from '@ondijon/stack';

/** A TCP port free right now on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * True when process `pid` exists and is not a zombie: a stack started from this test process stays its
 * child, and an exited child lingers as a zombie until Node reaps it.
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * A broker of its own for one test file (own ports and folder, infra/artemis/broker.xml as shipped, the
 * given heap), so that the log a test reads is its own: the config to pass to the stack's calls, and `stop`.
 */
export async function privateBroker(
  name: string,
  heap: string,
): Promise<{ config: Partial<StackConfig>; dir: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), `ondijon-${name}-`));
  const config: Partial<StackConfig> = {
    dir,
    artemisHome:
      resolveConfig().artemisHome ??
      path.join(repoRoot, '.stack', 'artemis-dist', `apache-artemis-${ARTEMIS_VERSION}`),
    artemisHeap: heap,
    mqttPort: await freePort(),
    mqttsPort: await freePort(),
    mqttAdminPort: await freePort(),
    externalMqtt: undefined,
  };
  await stackUp({ config, services: ['mqtt'] });
  return {
    config,
    dir,
    stop: async () => {
      await stackDown({ config });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
