// Maven runs of the stack: the Kafka jars, the Artemis distribution and the S3Proxy jar are fetched from
// Maven Central with `mvn` once, each the same way; one place says what is missing and why a fetch failed.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { StackError, which } from './config';

const execFileAsync = promisify(execFile);

/**
 * Runs `mvn -B -q <goalArgs>` to fetch `what` (named in the errors). Throws a `StackError` naming the
 * package to install when Maven is missing, and Maven's first error line when the fetch fails.
 */
export async function fetchWithMaven(what: string, goalArgs: string[], cwd?: string): Promise<void> {
  const mvn = which('mvn');
  if (mvn === undefined)
    throw new StackError(
      `Maven is not installed (no \`mvn\` on PATH), and it is needed once to fetch ${what}; install it (apt-get install -y maven) and retry.`,
    );
  try {
    await execFileAsync(mvn, ['-B', '-q', '-Dstyle.color=never', ...goalArgs], {
      ...(cwd === undefined ? {} : { cwd }),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 10 * 60_000,
    });
  } catch (error) {
    const out = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    const line = out
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split('\n')
      .find((l) => l.includes('ERROR') || l.includes('Error'));
    const cleaned = line?.replace('[ERROR]', '').replace(/\s+/g, ' ').trim() || (error as Error).message;
    const reason = cleaned.length > 160 ? `${cleaned.slice(0, 157)}...` : cleaned;
    throw new StackError(
      `Maven could not fetch ${what} from Maven Central (${reason}); check network access to Maven Central (or set a mirror in ~/.m2/settings.xml) and retry.`,
    );
  }
}
