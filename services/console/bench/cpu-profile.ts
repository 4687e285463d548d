// Preloaded into the console by `pnpm bench:console` when BENCH_CONSOLE_PROFILE names a directory
// (NODE_OPTIONS="--import tsx --import <this file>"): SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2
// stops it and writes a `.cpuprofile` there (open it in Chrome's DevTools), so the profile covers only
// the bench's measuring window, not the console's start.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.BENCH_CONSOLE_PROFILE;
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')),
      );
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      writeFileSync(path.join(dir, `console-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
