// The console is an observer of the pipeline: on a server it shares with ingest, it must not take CPU
// ingest needs (issue "the console without slowing ingest"; docs/console.md "CPU priority"). It lowers its
// own scheduling priority at start (`CONSOLE_NICENESS`): when the cores are busy the kernel runs ingest,
// the brokers and the processors first, and the console uses what they leave; when they are not, it runs
// as fast as before. On Linux a niceness belongs to each thread, and Node starts its threads (V8's
// platform workers, the module loader's) before any JavaScript runs, so every thread already there is
// set, by its id; threads started later inherit it from the thread that starts them.
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** What lowering the priority did. */
export interface PriorityResult {
  /** The niceness the process's main thread has now. */
  niceness: number;
  /** Threads set (1 where threads cannot be listed: off Linux, `setpriority` applies to the process). */
  threads: number;
}

/**
 * Raises the niceness of every thread of this process to at least `niceness` (0–19; a thread already
 * nicer is left as it is: lowering a niceness needs privileges, and an operator who started the console
 * under `nice -n 15` meant it).
 */
export function lowerOwnPriority(niceness: number): PriorityResult {
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number);
  } catch {
    tids = [0];
  }
  let threads = 0;
  for (const tid of tids) {
    try {
      if (getPriority(tid) < niceness) setPriority(tid, niceness);
      threads++;
    } catch {
      // A thread that ended between the listing and now.
    }
  }
  return { niceness: getPriority(0), threads };
}
