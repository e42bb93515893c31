import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { loadAccessConfig, type LoadedAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { describeSource } from '../config/policy-source.ts';
import { renderPolicy } from '../reports/policy/policy-doc.ts';
import { findPolicyVersion, loadedPolicy, policyInForce, policyVersionsLoaded, type PolicyVersion } from '../reports/policy/policy-history.ts';
import { parseInstant, withDatabase } from './context.ts';

export function policyCommand(): Command {
  return new Command('policy')
    .description('the access-control policy in Markdown, headed with its SHA-256: from access.yml, or the version in force at a time (--at)')
    .option('--out <file>', 'write it to this file instead of stdout')
    .option('--at <time>', 'render the version that was in force then, from the database (e.g. 2026-03-04T08:00Z)', parseInstant)
    .option('--history', 'list every version loaded, when, and where it came from (git commit and author, or file and host)')
    .addCommand(policyDiffCommand())
    .action(async (options: { out?: string; at?: Date; history?: boolean }) => {
      if (options.history) return void process.stdout.write(await withDatabase(({ db }) => policyVersionsLoaded(db)).then(historyText));
      const loaded = options.at ? await withDatabase(({ db }) => versionAt(db, options.at!)) : loadAccessConfig(readCliEnv(process.env).ACCESS_CONFIG);
      const markdown = renderPolicy(loaded);
      if (!options.out) return void process.stdout.write(markdown);
      writeFileSync(options.out, markdown);
      process.stdout.write(`Wrote ${options.out} from ${options.at ? `the version in force at ${options.at.toISOString()}` : loaded.path} (SHA-256 ${loaded.hash})\n`);
    });
}

function policyDiffCommand(): Command {
  return new Command('diff')
    .description('what changed between two policy versions, as a unified diff of their access.yml texts')
    .argument('<a>', 'the older version: a hash (8+ hex digits) or a time (the version in force then)')
    .argument('<b>', 'the newer version, likewise')
    .action(async (a: string, b: string) => {
      const [from, to] = await withDatabase(async ({ db }) => [await findPolicyVersion(db, a), await findPolicyVersion(db, b)] as const);
      process.stdout.write(diffText(from, to));
    });
}

async function versionAt(db: Parameters<typeof policyInForce>[0], at: Date): Promise<LoadedAccessConfig> {
  const version = await policyInForce(db, at);
  if (!version) throw new Error(`No policy was in force at ${at.toISOString()}: the first config.loaded event is later.`);
  return loadedPolicy(version);
}

function historyText(versions: PolicyVersion[]): string {
  if (versions.length === 0) return 'No policy has been loaded yet (no config.loaded event).\n';
  return versions.map((v) => `${v.loadedAt.toISOString()}  ${v.hash.slice(0, 12)}  seq ${v.seq}  ${describeSource(v.source)}${v.text === undefined ? '  [text not kept]' : ''}\n`).join('');
}

export function diffText(from: PolicyVersion, to: PolicyVersion): string {
  const head = `--- policy ${from.hash.slice(0, 12)}, in force from ${from.loadedAt.toISOString()} (${describeSource(from.source)})\n+++ policy ${to.hash.slice(0, 12)}, in force from ${to.loadedAt.toISOString()} (${describeSource(to.source)})\n`;
  if (from.hash === to.hash) return `${head}The two are the same version: nothing changed.\n`;
  const missing = [from, to].filter((v) => v.text === undefined);
  if (missing.length > 0) {
    return `${head}Cannot show the changes: the text of ${missing.map((v) => v.hash.slice(0, 12)).join(' and ')} was recorded before breakglass kept policy texts; only the hashes differ.\n`;
  }
  const patch = createTwoFilesPatch(`a/${from.hash.slice(0, 12)}`, `b/${to.hash.slice(0, 12)}`, from.text!, to.text!, '', '', { context: 3 });
  return head + patch.split('\n').slice(2).join('\n');
}
