import { statSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** End-to-end files first, then integration, then unit: the slow ones start while both workers are free. */
const KINDS = ['/test/e2e/', '/test/integration/', '/test/unit/'];

/**
 * Vitest starts files by their last run's durations when its cache has them, and by size when it
 * has not: a clean clone (CI) has no cache, and there a 40-second end-to-end file in a small file
 * started last and ran alone for half a minute. Here the kind of test ranks first, and size within
 * a kind, whatever the cache holds, so a run is ordered the same way everywhere.
 */
export class SlowKindsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const kind = KINDS.findIndex((folder) => file.moduleId.includes(folder));
      return kind === -1 ? KINDS.length : kind;
    };
    const size = (file: TestSpecification) => statSync(file.moduleId).size;
    return [...files].sort((a, b) => rank(a) - rank(b) || size(b) - size(a));
  }
}
