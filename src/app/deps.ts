import type { LoadedAccessConfig } from '../config/access.ts';
import type { Db } from '../db/client.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Clock, ChatDirectory, IdentityDirectory, Metrics, OnCallDirectory, Providers } from '../ports.ts';
import type { StepUp } from './step-up.ts';

/** What every use case may use. Built once in bot.ts. */
export interface AppDeps {
  db: Db;
  ledger: Ledger;
  clock: Clock;
  access: LoadedAccessConfig;
  providers: Providers;
  directory: ChatDirectory;
  /** The identity directory (Okta) when one is configured: people's status and managers, for access reviews. */
  identities?: IdentityDirectory | undefined;
  /** Who is on call now (PagerDuty), when PAGERDUTY_API_TOKEN is set: for access.yml auto_approve. */
  onCall?: OnCallDirectory | undefined;
  logger: Logger;
  /** For operators' dashboards; absent in tests that do not look. */
  metrics?: Metrics | undefined;
  /** Okta Verify push to approvers (access.yml `approval: { step_up: okta_verify }`), when Okta is configured. */
  stepUp?: StepUp | undefined;
  /**
   * This process's lease-holder key (db/lease-holder.ts), written beside each grant lease it takes, so
   * a bot starting after it dies can take those over at once. Absent (the CLI, tests): leases run out by time.
   */
  leaseHolder?: number | undefined;
  /** Nudges the workers so a change is acted on now rather than at the next tick. */
  wake: { grants(): void; outbox(): void };
}

export { Refusal } from '../domain/refusals.ts';
