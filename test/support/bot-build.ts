/**
 * The bot's sources compiled to JavaScript, for tests that start it or the CLI as a child process
 * many times (crash-safety restarts the bot a dozen times). Through `--import tsx/esm` every start transformed all
 * of src/ again, in the bot and again in its PGlite worker thread: about 2 s of CPU a start, more
 * than half of a PGlite start, on a machine where two bots start side by side.
 *
 * It is the same code: the same esbuild tsx runs (tsx's own dependency) with tsx's settings (target
 * this Node, names kept, source maps), one output file per source file, imports left as they are
 * apart from `.ts` → `.js`. The output has the layout of the production `dist/` (one folder below a
 * root that holds package.json, drizzle/ and node_modules), so the paths the sources resolve from
 * `import.meta.url` (migrations, package.json, the worker entries) find the same files.
 *
 * A build is kept in the OS temp folder under a hash of this checkout's path and every source, so
 * a test run finds the one its sources need (test processes are ended without an exit handler
 * running, so removing it afterwards was not reliable); this checkout's builds unused for an hour
 * are removed when a new one is made.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(REPO, 'src');
const STALE_MS = 60 * 60_000;

let built: Promise<string> | undefined;

/** The compiled entry (`…/dist/main.js`) for the sources as they are now, built at first use in this test run. */
export function builtBotMain(): Promise<string> {
  built ??= build();
  return built;
}

/**
 * The compiled CLI (`…/dist/cli/index.js`), what bin/breakglass.js runs in the Docker image: the
 * integration tests run the CLI a few hundred times, and through tsx each run cost about 1.9 s
 * (0.7 s compiled) before it did anything.
 */
export async function builtCli(): Promise<string> {
  return join(dirname(await builtBotMain()), 'cli', 'index.js');
}

/** The TypeScript sources, and the JavaScript ones (the PGlite worker) that run as they are. */
function sources(extension: '.ts' | '.mjs'): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(extension)) files.push(path);
    }
  };
  walk(SRC);
  return files.sort();
}

async function build(): Promise<string> {
  // tsx's esbuild, not whichever one happens to be hoisted: the compiler the sources run under otherwise.
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))('esbuild') as typeof import('esbuild');
  const entryPoints = sources('.ts');
  const asTheyAre = sources('.mjs');
  const content = createHash('sha256').update(`${process.version}\n${esbuild.version}\n`).update(readFileSync(join(REPO, 'tsconfig.json')));
  for (const file of [...entryPoints, ...asTheyAre]) content.update(`\n${file}\n`).update(readFileSync(file));
  const prefix = `breakglass-bot-build-${createHash('sha256').update(REPO).digest('hex').slice(0, 8)}-`;
  const root = join(tmpdir(), `${prefix}${content.digest('hex').slice(0, 16)}`);
  const main = join(root, 'dist', 'main.js');
  if (existsSync(main)) {
    const now = new Date();
    utimesSync(root, now, now);
    return main;
  }
  // Built aside and renamed into place: another test process may be building the same one.
  const building = mkdtempSync(`${root}-building-`);
  try {
    await esbuild.build({
      entryPoints,
      outdir: join(building, 'dist'),
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
    for (const file of asTheyAre) copyFileSync(file, join(building, 'dist', relative(SRC, file)));
    for (const name of ['package.json', 'drizzle', 'node_modules', 'bin']) symlinkSync(join(REPO, name), join(building, name));
    renameSync(building, root);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(main)) throw error;
  }
  removeStale(prefix, root);
  return main;
}

/** This checkout's other builds that no test run has used for an hour. */
function removeStale(prefix: string, keep: string): void {
  for (const name of readdirSync(tmpdir())) {
    const path = join(tmpdir(), name);
    if (!name.startsWith(prefix) || path === keep) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another test process meanwhile.
    }
  }
}
