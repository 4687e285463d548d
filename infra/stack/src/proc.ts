import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** What `stack up` records about a process it started, in `<name>.pid.json`. */
export interface PidRecord {
  /** Process id. */
  pid: number;
  /** Substrings that the process's command line must contain for it to still be ours (pid reuse guard). */
  fingerprint: string[];
  /** ISO time it was started. */
  startedAt: string;
}

/** Reads a pid record, or undefined when absent or unreadable. */
export function readPid(file: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** True when the recorded process is alive and its command line still matches (not a reused pid, not a zombie). */
export function isOurs(record: PidRecord | undefined): record is PidRecord {
  if (record === undefined) return false;
  const cmd = cmdline(record.pid);
  if (cmd === undefined || cmd === '') return false; // gone, or a zombie (empty cmdline)
  return record.fingerprint.every((f) => cmd.includes(f));
}

/** Starts a detached background process writing to `logFile`, records its pid, and returns the record. */
export function startDetached(opts: {
  command: string;
  args: string[];
  cwd: string;
  logFile: string;
  pidFile: string;
  fingerprint: string[];
}): PidRecord {
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // spawn errors (ENOENT) arrive asynchronously; the caller's health wait notices the dead pid.
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${opts.command}`);
    const record: PidRecord = {
      pid: child.pid,
      fingerprint: opts.fingerprint,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(opts.pidFile, JSON.stringify(record));
    return record;
  } finally {
    closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const cmd = cmdline(pid);
    return cmd !== undefined && cmd !== ''; // zombies have an empty cmdline
  } catch {
    return false;
  }
}

/** Stops the recorded process (SIGTERM, then SIGKILL after `deadlineMs`) and removes the pid file. */
export async function stopRecorded(pidFile: string, deadlineMs = 20_000): Promise<'stopped' | 'not-running'> {
  const record = readPid(pidFile);
  if (!isOurs(record)) {
    rmSync(pidFile, { force: true });
    return 'not-running';
  }
  try {
    process.kill(record.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const deadline = Date.now() + deadlineMs;
  while (alive(record.pid) && Date.now() < deadline) await sleep(100);
  if (alive(record.pid)) {
    try {
      process.kill(record.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    while (alive(record.pid)) await sleep(50);
  }
  rmSync(pidFile, { force: true });
  return 'stopped';
}

/** Resolves after `ms` milliseconds (for polling loops only, never as a synchronisation). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Last lines of a log file, for error messages. */
export function tail(file: string, lines = 5): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
