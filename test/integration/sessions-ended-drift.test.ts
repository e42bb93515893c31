/**
 * A revoke that also ends the person's open sessions is on the record whichever path revoked:
 * here the drift pass removing access nobody granted (`drift: { action: remove }`), with the
 * provider's count, from when, and how, next to the drift finding.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { reconcileDrift } from '../../src/app/reconcile-drift.ts';
import { loadAccessConfig } from '../../src/config/access.ts';
import { evidenceEvents } from '../../src/db/schema.ts';
import { Ledger } from '../../src/evidence/ledger.ts';
import { createLogger } from '../../src/logger.ts';
import type { AccessEntry, AccessProvider, GrantSpec } from '../../src/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';

const ACCESS_YML = `
security_channel: C0SECURITY
resources:
  prod-db:
    grant: { postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL } }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
drift: { every: 1h, action: remove }
`;

describeEachDatabase('sessions ended by a drift removal', (ctx) => {
  it('records grant.sessions_ended (reason drift) with the drift finding when the removal ended sessions', async () => {
    const held = new Map<string, AccessEntry>([['mallory', { resource: 'prod-db', principal: 'mallory' }]]);
    const revoked: GrantSpec[] = [];
    const effectiveAt = new Date('2026-03-04T03:00:00.500Z');
    const provider: AccessProvider = {
      name: 'postgres',
      supports: () => true,
      grant: async () => undefined,
      // As the PostgreSQL module answers: the membership gone, and the person's backends terminated.
      revoke: async (spec) => {
        revoked.push(spec);
        held.delete(spec.person.principal!);
        return { sessionsEnded: { ended: 2, effectiveAt, method: 'pg_terminate_backend' } };
      },
      listAccess: async () => [...held.values()],
    };
    const folder = mkdtempSync(join(tmpdir(), 'breakglass-sessions-'));
    writeFileSync(join(folder, 'access.yml'), ACCESS_YML);
    const clock = new FakeClock('2026-03-04T03:00:00Z');
    const deps: AppDeps = {
      db: ctx.database.db,
      ledger: new Ledger(clock),
      clock,
      access: loadAccessConfig(join(folder, 'access.yml')),
      providers: { forTarget: () => provider },
      directory: { user: async () => undefined, usergroupMembers: async () => [], userByEmail: async () => undefined },
      logger: createLogger('silent'),
      wake: { grants: () => {}, outbox: () => {} },
    };

    const findings = await reconcileDrift(deps);
    expect(findings).toMatchObject([{ principal: 'mallory', kind: 'unmanaged', removed: true }]);
    expect(revoked.map((spec) => spec.person.principal)).toEqual(['mallory']);
    const [drift] = await ctx.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'drift.detected'));
    const [ended] = await ctx.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'grant.sessions_ended'));
    expect(ended).toMatchObject({
      subject: 'mallory',
      resource: 'prod-db',
      details: { grant_id: null, provider: 'postgres', ended: 2, effective_at: effectiveAt.toISOString(), method: 'pg_terminate_backend', reason: 'drift', principal: 'mallory' },
    });
    // Committed with the finding, right after it.
    expect(ended!.seq).toBe(drift!.seq + 1);
  });
});
