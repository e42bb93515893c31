/**
 * The bot's sources compiled to JavaScript once per test run, for tests that start it as a child
 * process many times (crash-safety restarts it a dozen times). Through `--import tsx/esm` every start
 * transformed all of src/ again, in the bot and again in its PGlite worker thread: about 2 s of CPU
 * a start, more than half of a PGlite start, on a machine where two bots start side by side.
 *
 * It is the same code: the same esbuild tsx runs (tsx's own dependency) with tsx's settings (target
 * this Node, names kept, source maps), one output file per source file, imports left as they are
 * apart from `.ts` → `.js`. The output has the layout of the production `dist/` (one folder below a
 * root that holds package.json, drizzle/ and node_modules), so the paths the sources resolve from
 * `import.meta.url` (migrations, package.json, the worker entries) find the same files.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(REPO, 'src');

let built: Promise<string> | undefined;

/** The compiled entry (`…/dist/main.js`), built at first use and removed when the test process exits. */
export function builtBotMain(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  // tsx's esbuild, not whichever one happens to be hoisted: the compiler the sources run under otherwise.
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))('esbuild') as typeof import('esbuild');
  const root = mkdtempSync(join(tmpdir(), 'breakglass-bot-build-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const entryPoints: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) entryPoints.push(path);
    }
  };
  walk(SRC);
  await esbuild.build({
    entryPoints,
    outdir: join(root, 'dist'),
    outbase: SRC,
    // Bundling only to have every import pass through the plugin below, which keeps each one external:
    // the output is still one module per source file, importing the others and node_modules at run time.
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    keepNames: true,
    sourcemap: 'inline',
    sourcesContent: false,
    tsconfig: join(REPO, 'tsconfig.json'),
    logLevel: 'error',
    plugins: [
      {
        name: 'keep-imports',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            return { path: args.path.startsWith('.') ? args.path.replace(/\.ts$/, '.js') : args.path, external: true };
          });
        },
      },
    ],
  });
  for (const name of ['drizzle', 'node_modules', 'bin']) symlinkSync(join(REPO, name), join(root, name));
  copyFileSync(join(REPO, 'package.json'), join(root, 'package.json'));
  return join(root, 'dist', 'main.js');
}
