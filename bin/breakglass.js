#!/usr/bin/env node
// Runs the CLI from the TypeScript sources in a checkout (through tsx, so `npx breakglass` works
// right after `npm ci`), or from the compiled dist/ in the Docker image, where src/ is absent.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/index.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli/index.js', import.meta.url).href);
}
