// The broker's small Java companions (infra/artemis/*.java), compiled once per content with `javac`
// against Artemis' jars: the management client of `pnpm operators` and the MQTT client-id guard.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { StackError, infraDir, which, type StackConfig } from './config';

const execFileAsync = promisify(execFile);

/**
 * Compiles `infra/artemis/<name>.java` into `.stack/artemis/tools/<name>-<hash>/` (reused while the source
 * is unchanged) and returns that folder; needs `javac` (a JDK: openjdk-17-jdk-headless).
 */
export async function compileArtemisJava(
  config: Pick<StackConfig, 'dir'>,
  home: string,
  name: string,
): Promise<string> {
  const source = path.join(infraDir, 'artemis', `${name}.java`);
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const out = path.join(config.dir, 'artemis', 'tools', `${name}-${hash}`);
  if (existsSync(path.join(out, '.done'))) return out;
  const javac = which('javac');
  if (javac === undefined)
    throw new StackError(
      'javac is not installed, and the MQTT broker needs it once to build its companions (infra/artemis/*.java); install a JDK (apt-get install -y openjdk-17-jdk-headless) and retry.',
    );
  const staging = `${out}.${process.pid}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await execFileAsync(javac, ['-nowarn', '-cp', path.join(home, 'lib', '*'), '-d', staging, source], {
      timeout: 180_000,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new StackError(
      `javac could not compile ${source} (${stderr.split('\n')[0]?.slice(0, 200) ?? ''}).`,
    );
  }
  mkdirSync(path.join(staging, '.done'));
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
  return out;
}

/** Packs a classes folder into a jar (a zip; Python's zipfile, as for the distribution). */
export async function packJar(classes: string, jar: string): Promise<void> {
  mkdirSync(path.dirname(jar), { recursive: true });
  const tmp = `${jar}.${process.pid}.tmp`;
  await execFileAsync('python3', ['-m', 'zipfile', '-c', tmp, 'org'], { cwd: classes, timeout: 60_000 });
  renameSync(tmp, jar);
}
