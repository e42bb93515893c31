import { userInfo } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Refusal } from '../app/deps.ts';
import { startReview } from '../app/start-review.ts';
import { loadAccessConfig } from '../config/access.ts';
import { loadReviewReport, reviewReportCsv, reviewReportMarkdown } from '../evidence/review-report.ts';
import { systemClock } from '../ports.ts';
import { withDatabase } from './context.ts';

function cliUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

const campaignId = (text: string) => {
  if (!/^\d{1,9}$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a campaign number`);
  return Number(text);
};

const resourceList = (text: string) => {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('name at least one resource, e.g. --scope prod-db,prod-admin');
  return names;
};

export function reviewCommand(): Command {
  const review = new Command('review').description('access reviews: start a campaign, report on one');

  review
    .command('start')
    .description('start an access-review campaign now; the running bot builds it and sends the cards (starting the same period twice does nothing)')
    .option('--scope <resources>', 'comma-separated resources to review (default: access.yml reviews.scope, else every resource)', resourceList)
    .option('--period <label>', 'the period this campaign covers (default: the schedule\'s current period, e.g. 2026-Q2); a new label starts another campaign in the same quarter')
    .action(async (options: { scope?: string[]; period?: string }) => {
      await withDatabase(async (database, env) => {
        const { config } = loadAccessConfig(env.ACCESS_CONFIG);
        let started;
        try {
          started = await startReview({ db: database.db, clock: systemClock, config }, { trigger: 'manual', requestedBy: cliUser(), scope: options.scope, period: options.period });
        } catch (error) {
          if (error instanceof Refusal) throw new Error(error.message.replace(/`/g, ''));
          throw error;
        }
        const what = `access review #${started.campaignId} for ${started.period} (scope: ${started.scope.join(', ')})`;
        if (!started.created) {
          process.stdout.write(`Nothing to do: ${what} already exists (${started.state}, requested ${started.requestedAt.toISOString()}). Use --period to start another one.\n`);
          return;
        }
        const next =
          database.kind === 'pglite'
            ? 'The bot builds it and sends the cards when it starts (the embedded database allows one process at a time).'
            : 'The running bot builds it and sends the cards to the managers within seconds.';
        process.stdout.write(`Started ${what}. ${next}\n`);
      });
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
