import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Niceness of each thread of `pid`, from /proc (field 19 of stat, after the command's parentheses). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

/** Starts a Node process that lowers its priority to `niceness`, and waits for it to say it did. */
async function lowered(
  niceness: number,
  startedUnder = 0,
): Promise<{ pid: number; said: string; stop: () => void }> {
  const entry = path.join(import.meta.dirname, '../src/priority.ts');
  const child = spawn(
    'nice',
    [
      '-n',
      String(startedUnder),
      process.execPath,
      '--import',
      'tsx',
      '-e',
      `import(${JSON.stringify(entry)}).then((m) => { console.log(JSON.stringify(m.lowerOwnPriority(${niceness}))); setInterval(() => {}, 1000); })`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const said = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  return { pid: child.pid!, said, stop: () => child.kill('SIGKILL') };
}

describe.runIf(process.platform === 'linux')('lowerOwnPriority', () => {
  it('sets every thread of the process, those Node started before any JavaScript ran included', async () => {
    const base = getPriority(0);
    const target = Math.min(19, base + 7);
    const child = await lowered(target);
    try {
      const threads = threadNiceness(child.pid);
      // Node runs V8's platform workers and the module loader's thread beside the main one.
      expect(threads.length).toBeGreaterThan(3);
      expect(new Set(threads)).toEqual(new Set([target]));
      expect(JSON.parse(child.said)).toEqual({ niceness: target, threads: threads.length });
    } finally {
      child.stop();
    }
  });

  it('leaves a process started nicer than asked as it is (lowering a niceness needs privileges)', async () => {
    const base = getPriority(0);
    const child = await lowered(Math.min(19, base + 3), 6);
    try {
      expect(new Set(threadNiceness(child.pid))).toEqual(new Set([Math.min(19, base + 6)]));
    } finally {
      child.stop();
    }
  });
});
