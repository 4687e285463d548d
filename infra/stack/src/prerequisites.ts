import { execFileSync, spawnSync } from 'node:child_process';
import { StackError, which } from './config';

/** Returns the path of `java`, or throws the one-sentence fix. */
export function requireJava(): string {
  const java = which('java');
  if (java === undefined) {
    throw new StackError(
      'Java is not installed (no `java` on PATH); install a JDK or JRE 17 or newer (apt-get install -y openjdk-17-jre-headless) and retry.',
    );
  }
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)/.exec(`${result.stderr}${result.stdout}`);
  const major = match?.[1] === undefined ? undefined : Number(match[1]);
  if (major !== undefined && major < 17) {
    throw new StackError(
      `Java ${major} is too old for Apache Kafka 4 (it needs 17 or newer); install openjdk-17-jre-headless and retry.`,
    );
  }
  return java;
}

/** Debian package that provides each binary the stack runs. */
const packageOf: Record<string, string> = { mosquitto: 'mosquitto', 'redis-server': 'redis-server' };

/**
 * Ensures the binaries exist, installing their Debian packages with apt-get when running as root;
 * returns their paths, or throws the one-sentence fix.
 */
export function requireBinaries(binaries: string[], log: (line: string) => void): Record<string, string> {
  const missing = binaries.filter((b) => which(b) === undefined);
  if (missing.length > 0) {
    const packages = missing.map((b) => packageOf[b] ?? b);
    const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
    if (process.getuid?.() !== 0) {
      throw new StackError(
        `${missing.join(' and ')} not installed and this user is not root; run \`sudo sh -c '${command}'\` and retry.`,
      );
    }
    if (which('apt-get') === undefined) {
      throw new StackError(
        `${missing.join(' and ')} not installed and there is no apt-get here; install ${packages.join(' ')} with this system's package manager and retry.`,
      );
    }
    log(`installing ${packages.join(', ')} with apt-get`);
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('apt-get', ['update'], { stdio: 'pipe', env });
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
        stdio: 'pipe',
        env,
      });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? '';
      throw new StackError(
        `apt-get could not install ${packages.join(' ')} (${stderr || 'no output'}); check network access to the Debian mirrors, run \`${command}\` yourself, and retry.`,
      );
    }
  }
  const paths: Record<string, string> = {};
  for (const binary of binaries) {
    const found = which(binary);
    if (found === undefined)
      throw new StackError(
        `${binary} is still missing after installing it; install ${packageOf[binary] ?? binary} by hand and retry.`,
      );
    paths[binary] = found;
  }
  return paths;
}
