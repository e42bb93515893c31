import { defineConfig } from 'vitest/config';
import { SlowKindsFirst } from './test/support/sequencer.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at a time, one per core: each creates its own databases and wire servers, and most
    // of a file's time is spent waiting (on the fake clock's workers, a bot's restart, a CLI run),
    // so two side by side keep both cores busy where one left about a third of them idle.
    maxWorkers: 2,
    // Files share one module cache: the SDKs, specs and sources load once, not once per file
    // (about 100 s of the suite). Nothing in test/ relies on fresh module state.
    isolate: false,
    // Suites declared side by side (test/support/cli-databases.ts) run two at a time.
    maxConcurrency: 2,
    sequence: { sequencer: SlowKindsFirst },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
