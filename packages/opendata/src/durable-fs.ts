import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** SHA-256 hex of a buffer or string. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes a file and fsyncs it before closing, so its bytes are on disk before any rename refers to it. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Fsyncs a directory so that entries created or renamed in it survive a power loss (POSIX: a rename is
 * durable only once its directory is synced). Some platforms refuse to open directories; ignored there.
 */
export async function fsyncDir(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EISDIR' && (err as NodeJS.ErrnoException).code !== 'EPERM')
      throw err;
  } finally {
    await fh?.close();
  }
}

/** A unique name for a temporary entry: pid + random, so concurrent writers never collide. */
export function tempName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Replaces `path` atomically: write a temp file in `tmpDir` (same filesystem), fsync, rename over the
 * target, fsync the target's directory. Readers see the old or the new content, never a mix.
 */
export async function replaceFileAtomic(
  path: string,
  data: string | Uint8Array,
  tmpDir: string,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, tempName('file'));
  await writeFileSynced(tmp, data);
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}
