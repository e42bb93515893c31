import { runCli } from './cli.ts';
import type { DatabaseKind } from './databases.ts';
import type { Harness } from './harness.ts';

/** A JSON answer of `who` or `access` (shapes in the README, "The access record"). */
export type AccessAnswer = Record<string, any>;

/**
 * Asks the access record through the real CLI, as an auditor would (`npx breakglass who …`,
 * `access …`, each with `--format json`), against the bot's own database. On PostgreSQL the CLI
 * runs beside the bot. The embedded database admits one process, so on PGlite the bot is stopped
 * while the CLI runs and started again on the same data afterwards, as after a restart; with
 * `{ last: true }` (the test asks nothing of the bot afterwards) it stays stopped, saving a start.
 */
export async function askAccessRecord(h: Harness, database: DatabaseKind, questions: string[][], options: { last?: boolean } = {}): Promise<AccessAnswer[]> {
  const env: Record<string, string> = database === 'postgres' ? { DATABASE_URL: h.bot.database.location } : { DATA_DIR: h.dataDir };
  const ask = async (question: string[]): Promise<AccessAnswer> => {
    const answer = await runCli([...question, '--format', 'json'], env);
    if (answer.code !== 0) throw new Error(`breakglass ${question.join(' ')} exited ${answer.code}: ${answer.stderr}`);
    return JSON.parse(answer.stdout) as AccessAnswer;
  };
  if (database === 'postgres') return Promise.all(questions.map(ask));
  const answers: AccessAnswer[] = [];
  const askAll = async () => {
    for (const question of questions) answers.push(await ask(question));
  };
  if (options.last) await h.stopBot().then(askAll);
  else await h.restart(askAll);
  return answers;
}

/** The intervals of an answer (`holders` of who, `intervals` of access) that name any of these aliases (any case). */
export function intervalsOf(answer: AccessAnswer, ...aliases: string[]): AccessAnswer[] {
  const wanted = new Set(aliases.map((a) => a.toLowerCase()));
  const rows: AccessAnswer[] = answer.holders ?? answer.intervals ?? [];
  return rows.filter((row) => (row.aliases as string[]).some((a) => wanted.has(a.toLowerCase())));
}
