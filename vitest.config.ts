import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file creates its own databases and wire servers, but PGlite and the servers are heavy
    // enough that running files one at a time keeps timings predictable on 2 cores.
    fileParallelism: false,
    // Files share one module cache: the SDKs, specs and sources load once, not once per file
    // (about 100 s of the suite's 11 minutes). Nothing in test/ relies on fresh module state.
    isolate: false,
    // Suites declared side by side (test/support/cli-databases.ts) run two at a time: one per core.
    maxConcurrency: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
