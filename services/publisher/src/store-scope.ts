// The open-data store as the instances of a publisher group see it (issue 17, item 1): every object
// replaced in place (the catalogue, a dataset's files, a register) is written only after the fences of
// the writer are checked in Redis, and recovery is narrowed to one dataset, so that the holder of one
// dataset's lease never removes the write in progress of another dataset's holder.
import { rm } from 'node:fs/promises';
import { layout, type StoreBackend } from '@ondijon/opendata';

/** `base` with `check` awaited before every in-place replace (it throws when a fence is gone). */
export function fencedBackend(base: StoreBackend, check: () => Promise<void>): StoreBackend {
  return {
    ...base,
    async replace(rel, data) {
      await check();
      await base.replace(rel, data);
    },
  };
}

/**
 * `base` as recovery of one dataset must see it: only that dataset under `datasets/`, and on a directory
 * store only the temp entries that dataset's writes or a replace left (`release-<id>-…`, `file-…`: a
 * replace runs only under the catalogue lock, which recovery holds). Other datasets' temp folders are
 * writes in progress of other instances, or debris their own holder removes.
 */
export function datasetScope(base: StoreBackend, datasetId: string): StoreBackend {
  return {
    ...base,
    async list(relDir) {
      const names = await base.list(relDir);
      return relDir === 'datasets' ? names.filter((n) => n === datasetId) : names;
    },
    async removeTemp() {
      if (base.kind !== 'fs') return base.removeTemp();
      const removed: string[] = [];
      // `release-<dataset>-<release id>-<pid>-<random>`; a release id starts with its UTC date.
      const own = new RegExp(`^release-${datasetId}-\\d{4}-\\d{2}-\\d{2}T`);
      for (const name of await base.list(layout.tmp)) {
        if (!own.test(name) && !name.startsWith('file-')) continue;
        await rm(base.localPath(`${layout.tmp}/${name}`)!, { recursive: true, force: true });
        removed.push(name);
      }
      return removed;
    },
  };
}
