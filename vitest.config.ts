import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Test files share one PostgreSQL server; each creates its own database, but PGlite
    // and wire servers are heavy enough that running files one at a time keeps CI predictable.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
