import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../logger.ts';

/**
 * Calls `changed` once things settle after the file's folder changes. The folder, not the file:
 * editors save by renaming a new file over the old one, and Kubernetes swaps a ConfigMap's
 * symlink, either of which leaves a watch on the old file silent. Returns the stop function.
 */
export function watchFile(path: string, debounceMs: number, changed: () => void, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(resolve(path)), () => {
      clearTimeout(timer);
      timer = setTimeout(changed, debounceMs);
    });
  } catch (error) {
    logger.warn({ err: error, config: path }, 'cannot watch access.yml for changes; reload it with SIGHUP');
    return () => undefined;
  }
  watcher.on('error', (error) => logger.warn({ err: error, config: path }, 'stopped watching access.yml; reload it with SIGHUP'));
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
