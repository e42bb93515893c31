import { sql } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from './db/client.ts';
import type { Clock, Metrics, Providers } from './ports.ts';
import { aroundOperations } from './providers/around-operations.ts';

/** A grant is overdue once it has outlived its end by this much (the product's revoke target). */
const OVERDUE_AFTER_MS = 60_000;

interface Snapshot {
  grantsActive: number;
  revokesOverdue: number;
  revokesRetrying: number;
  outboxBacklog: number;
  outboxOldestSeconds: number;
  driftFindingsOpen: number;
  checkpointAgeSeconds: number;
  ledgerHeadSeq: number;
}

/**
 * The bot's Prometheus metrics (GET /metrics). Latencies are observed where they happen; the
 * state of the queues is read from the database at scrape time, so every replica reports the
 * same truth and a restart loses nothing. Each bot has its own registry (tests run several).
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly ack = this.histogram('breakglass_slack_ack_seconds', 'Time from a Slack request arriving to its HTTP answer (the ack Slack waits at most 3 s for).', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5]);
  private readonly approveToGrant = this.histogram('breakglass_approve_to_grant_seconds', 'From the approval that completed a request to the access being active at the provider.', [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900]);
  private readonly expiryToRevoke = this.histogram('breakglass_expiry_to_revoke_seconds', "From a grant's end to its access being removed at the provider.", [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600]);
  private readonly calls = new Counter({ name: 'breakglass_provider_calls_total', help: 'Provider operations (grant, revoke, listAccess), by provider and operation.', labelNames: ['provider', 'operation'], registers: [this.registry] });
  private readonly errors = new Counter({ name: 'breakglass_provider_errors_total', help: 'Provider operations that failed (after their in-call retries), by provider and operation.', labelNames: ['provider', 'operation'], registers: [this.registry] });
  /** Several gauges are read per scrape: one query answers all of them. */
  private snapshot: Promise<Snapshot> | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.gauge('breakglass_grants_active', 'Grants whose access is held now.', (s) => s.grantsActive);
    this.gauge('breakglass_revokes_overdue', `Grants still not revoked more than ${OVERDUE_AFTER_MS / 1000} s after their end.`, (s) => s.revokesOverdue);
    this.gauge('breakglass_revokes_retrying', 'Revokes that failed at least once and are waiting to be tried again.', (s) => s.revokesRetrying);
    this.gauge('breakglass_outbox_backlog', 'Slack messages waiting to be sent.', (s) => s.outboxBacklog);
    this.gauge('breakglass_outbox_oldest_age_seconds', 'Age of the oldest Slack message waiting to be sent (0 when none waits).', (s) => s.outboxOldestSeconds);
    this.gauge('breakglass_drift_findings_open', 'Drift alerts nobody has acknowledged.', (s) => s.driftFindingsOpen);
    this.gauge('breakglass_checkpoint_age_seconds', 'Seconds since the last signed ledger checkpoint (-1 when there has been none).', (s) => s.checkpointAgeSeconds);
    this.gauge('breakglass_ledger_head_seq', 'The sequence number of the newest evidence event.', (s) => s.ledgerHeadSeq);
  }

  slackAck(seconds: number): void {
    this.ack.observe(seconds);
  }

  grantApplied(lagSeconds: number): void {
    this.approveToGrant.observe(Math.max(0, lagSeconds));
  }

  grantRevokedAfterEnd(lagSeconds: number): void {
    this.expiryToRevoke.observe(Math.max(0, lagSeconds));
  }

  providerCall(provider: string, operation: string, failed: boolean): void {
    this.calls.inc({ provider, operation });
    if (failed) this.errors.inc({ provider, operation });
  }

  /** The text a Prometheus server scrapes. */
  async text(): Promise<{ contentType: string; body: string }> {
    this.snapshot = undefined;
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private histogram(name: string, help: string, buckets: number[]): Histogram {
    return new Histogram({ name, help, buckets, registers: [this.registry] });
  }

  private gauge(name: string, help: string, read: (s: Snapshot) => number): void {
    const snapshot = () => this.readSnapshot();
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.set(read(await snapshot()));
      },
    });
  }

  private readSnapshot(): Promise<Snapshot> {
    this.snapshot ??= querySnapshot(this.db, this.clock.now());
    return this.snapshot;
  }
}

async function querySnapshot(db: Db, now: Date): Promise<Snapshot> {
  const at = now.toISOString();
  const overdueBefore = new Date(now.getTime() - OVERDUE_AFTER_MS).toISOString();
  const result = await db.execute(sql`
    select
      (select count(*) from grants where state in ('active', 'extending'))::int as grants_active,
      (select count(*) from grants where state in ('active', 'extending', 'revoking') and ends_at < ${overdueBefore}::timestamptz)::int as revokes_overdue,
      (select count(*) from grants where state = 'revoking' and last_error is not null)::int as revokes_retrying,
      (select count(*) from outbox where sent_at is null and failed_at is null)::int as outbox_backlog,
      (select coalesce(extract(epoch from (${at}::timestamptz - min(created_at))), 0) from outbox where sent_at is null and failed_at is null)::float8 as outbox_oldest_seconds,
      (select count(*) from alerts where kind = 'drift' and acknowledged_at is null)::int as drift_findings_open,
      (select coalesce(extract(epoch from (${at}::timestamptz - max(occurred_at))), -1) from evidence_events where kind = 'ledger.checkpoint')::float8 as checkpoint_age_seconds,
      (select coalesce(max(seq), 0) from ledger_head)::float8 as ledger_head_seq`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, number | string>[];
  const row = rows[0] ?? {};
  const n = (key: string) => Number(row[key] ?? 0);
  return {
    grantsActive: n('grants_active'),
    revokesOverdue: n('revokes_overdue'),
    revokesRetrying: n('revokes_retrying'),
    outboxBacklog: n('outbox_backlog'),
    outboxOldestSeconds: n('outbox_oldest_seconds'),
    driftFindingsOpen: n('drift_findings_open'),
    checkpointAgeSeconds: n('checkpoint_age_seconds'),
    ledgerHeadSeq: n('ledger_head_seq'),
  };
}

/** The same providers, each operation counted (and its failures) by provider and operation. */
export function countedProviders(providers: Providers, metrics: Metrics): Providers {
  return aroundOperations(providers, async (provider, operation, call) => {
    try {
      const result = await call();
      metrics.providerCall(provider.name, operation, false);
      return result;
    } catch (error) {
      metrics.providerCall(provider.name, operation, true);
      throw error;
    }
  });
}
