import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startReview, type StartedReview } from '../app/start-review.ts';
import { loadAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { BOT_HOLDER, DataDirBusyError } from '../db/data-dir-lock.ts';
import { askRunningBot, type ReviewStartRequest } from '../bot-mailbox.ts';
import { loadReviewReport, reviewReportCsv, reviewReportMarkdown } from '../reports/review/review-report.ts';
import { systemClock } from '../ports.ts';
import { campaignId, cliUser, withDatabase } from './context.ts';

const resourceList = (text: string) => {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('name at least one resource, e.g. --scope prod-db,prod-admin');
  return names;
};


function printStarted(started: StartedReview, next: string): void {
  const what = `access review #${started.campaignId} for ${started.period} (scope: ${started.scope.join(', ')})`;
  if (started.created) process.stdout.write(`Started ${what}. ${next}\n`);
  else process.stdout.write(`Nothing to do: ${what} already exists (${started.state}, requested ${started.requestedAt.toISOString()}). Use --period to start another one.\n`);
}

export function reviewCommand(): Command {
  const review = new Command('review').description('access reviews: start a campaign, report on one');

  review
    .command('start')
    .description('start an access-review campaign now; the running bot builds it and sends the cards (starting the same period twice does nothing)')
    .option('--scope <resources>', 'comma-separated resources to review (default: access.yml reviews.scope, else every resource)', resourceList)
    .option('--period <label>', 'the period this campaign covers (default: the schedule\'s current period, e.g. 2026-Q2); a new label starts another campaign in the same quarter')
    .action(async (options: { scope?: string[]; period?: string }) => {
      const request: ReviewStartRequest = { requestedBy: cliUser(), ...(options.scope ? { scope: options.scope } : {}), ...(options.period ? { period: options.period } : {}) };
      const running = 'The running bot builds it and sends the cards to the managers within seconds.';
      try {
        await withDatabase(async (database, env) => {
          const { config } = loadAccessConfig(env.ACCESS_CONFIG);
          const started = await startReview({ db: database.db, clock: systemClock, config }, { trigger: 'manual', ...request });
          printStarted(started, database.kind === 'pglite' ? 'The bot builds it and sends the cards when it starts.' : running);
        });
      } catch (error) {
        if (!(error instanceof DataDirBusyError && error.holder.holder === BOT_HOLDER)) throw error;
        // The embedded database allows one process: the bot holding it starts the review for us.
        process.stderr.write(`The bot (pid ${error.holder.pid}) has the embedded database open; handing the request to it…\n`);
        const answer = await askRunningBot(resolve(readCliEnv(process.env).DATA_DIR), request, {
          onWait: (ms) => process.stderr.write(`still waiting for the bot (${Math.round(ms / 1000)} s)…\n`),
        });
        if ('refused' in answer) throw new Error(answer.refused);
        if ('failed' in answer) throw new Error(`the bot could not start the review: ${answer.failed}`);
        printStarted(answer.started, running);
      }
    });

  review
    .command('report')
    .description('a campaign\'s items, decisions, who decided when, sign-offs, overdue reviewers and revocations (verified or not)')
    .option('--campaign <id>', 'the campaign (default: the latest)', campaignId)
    .addOption(new Option('--format <format>', 'output format').choices(['md', 'csv']).default('md'))
    .action(async (options: { campaign?: number; format: 'md' | 'csv' }) => {
      await withDatabase(async ({ db }) => {
        const report = await loadReviewReport(db, { campaignId: options.campaign, now: systemClock.now() });
        if (!report) {
          throw new Error(options.campaign !== undefined ? `there is no access review #${options.campaign}` : 'no access review has started yet; start one with `npx breakglass review start`');
        }
        process.stdout.write(options.format === 'csv' ? reviewReportCsv(report) : reviewReportMarkdown(report));
      });
    });

  return review;
}
