import { defineConfig } from 'drizzle-kit';

// Only `drizzle-kit generate` uses this: migrations are plain SQL applied by the app at start.
export default defineConfig({ dialect: 'postgresql', schema: './src/db/schema.ts', out: './drizzle' });
