/**
 * Provider outcomes that cannot be known are not guessed: a grant whose answer was lost is checked
 * by listing IAM and recorded as what IAM holds; while IAM cannot be listed the grant is in doubt,
 * alerted once and checked again by the worker; a revoke answered NoSuchEntity while IAM still lists
 * the membership is not recorded as revoked.
 */
import { IAMClient, UpdateUserCommand } from '@aws-sdk/client-iam';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alerts } from '../../src/db/schema.ts';
import { PROBE_EVERY_MS } from '../../src/providers/circuit.ts';
import { DEFAULT_RETRY } from '../../src/providers/retry.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { reconcileDrift } from '../../src/app/reconcile-drift.ts';
import { AwsIamProvider } from '../../src/providers/aws-iam/aws-iam-provider.ts';
import { click, clockAtNow, eventsOf, grantOf, ledger, request, requestAndApprove, waitForCard, waitForDm, waitForEvent } from '../support/flows.ts';
import { useCaseDeps } from '../support/process-deps.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import type { IamRecordedRequest } from '../support/iam-server.ts';
import { textOf } from '../support/slack-server.ts';
import { askAccessRecord, intervalsOf } from '../support/access-cli.ts';

vi.setConfig({ testTimeout: 60_000 });
const WAIT = 15_000;
const HOUR = 60 * 60_000;

const ACCESS = `security_channel: C0SEC
resources:
  prod-admin:
    description: AWS production admin group
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const PEOPLE = ['bob', 'carol', 'dave', 'erin', 'frank'];
const emailOf = (name: string) => `${name}@example.com`;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`grants in doubt [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;
    const iam = () => h.iam.account();
    const about = (action: string, user: string) => (r: IamRecordedRequest) => r.action === action && r.params['UserName'] === emailOf(user);
    const listing = (r: IamRecordedRequest) => r.action === 'GetGroup' && r.params['GroupName'] === 'ProdAdmins';
    const securityAlerts = (pattern: RegExp) => h.slack.messagesTo('C0SEC').filter((m) => pattern.test(textOf(m)));

    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        tickMs: 50,
        slack: { users: PEOPLE.map((name) => ({ id: `U0${name.toUpperCase()}`, name, email: emailOf(name) })) },
      });
      iam().addGroup('ProdAdmins');
      for (const name of PEOPLE) iam().addUser(emailOf(name));
    });
    afterAll(async () => h?.stop());

    /** The worker's retries, each as soon as its backoff (and the circuit's probe spacing) allows, until `kind` is recorded. */
    const retriedUntil = (requestId: number, kind: string) =>
      h.slack.waitFor(async () => {
        const found = (await eventsOf(h, requestId)).find((e) => e.kind === kind);
        const next = (await grantOf(h, requestId))!.nextAttemptAt;
        if (!found && next && next > clock.now()) clock.set(new Date(next.getTime() + 1));
        return found;
      }, WAIT, `${kind} for request #${requestId} after retries`);

    async function approve(requester: string, text: string) {
      // Each case starts with IAM's circuits ready to probe again after the last case's failures.
      clock.advance(PROBE_EVERY_MS + 1);
      const { requestId } = await request(h, requester, text);
      const card = await waitForCard(h, 'U0BOB', requestId);
      const clicked = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(clicked.status).toBe(200);
      return { requestId, clicked };
    }

    it('IAM applied AddUserToGroup but the answer was lost: confirmed by listing, recorded as applied, revoked at its end', async () => {
      const stop = h.iam.dropWhen(about('AddUserToGroup', 'carol'), { apply: true });
      let requestId: number;
      try {
        ({ requestId } = await approve('U0CAROL', 'prod-admin 1h INC-90 rotate keys'));
        const applied = await waitForEvent(h, requestId, 'grant.applied', WAIT);
        expect(applied).toMatchObject({
          actor: 'breakglass',
          subject: 'U0CAROL',
          resource: 'prod-admin',
          details: { confirmed_by: 'listing', unanswered_error: expect.stringMatching(/AddUserToGroup/), provider: 'aws-iam' },
        });
      } finally {
        stop();
      }
      expect(h.iam.calls('AddUserToGroup').filter(about('AddUserToGroup', 'carol')).every((r) => r.errorCode === 'ConnectionDropped')).toBe(true);
      expect(h.iam.calls('RemoveUserFromGroup').filter(about('RemoveUserFromGroup', 'carol'))).toEqual([]);
      expect(iam().isMember('ProdAdmins', emailOf('carol'))).toBe(true);
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'active' });
      await waitForDm(h, 'U0CAROL', new RegExp(`\`prod-admin\` is active until.*request #${requestId}`));
      expect(h.slack.messagesTo('U0CAROL').some((m) => /could not be granted|Nothing was changed/.test(textOf(m)))).toBe(false);

      clock.advance(HOUR + 1_000);
      await waitForEvent(h, requestId, 'grant.revoked', WAIT);
      expect(iam().isMember('ProdAdmins', emailOf('carol'))).toBe(false);
      const events = await eventsOf(h, requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.revoked']);
      await waitForDm(h, 'U0CAROL', new RegExp(`\`prod-admin\` has ended \\(request #${requestId}\\)`));

      // Asked afterwards through the CLI: her access was the grant (from when the lost call was sent), it
      // expired and the listing after the revoke saw it gone; never access nobody granted.
      const [created, applied, revoked] = ['request.created', 'grant.applied', 'grant.revoked'].map((kind) => events.find((e) => e.kind === kind)!);
      const from = String(applied!.details.starts_at);
      const during = new Date(Date.parse(from) + 30 * 60_000).toISOString();
      const after = new Date(Date.parse(String(revoked!.details.revoked_at)) + 1_000).toISOString();
      const [atThen, herThen, period] = await askAccessRecord(h, database, [
        ['who', 'prod-admin', '--at', during],
        ['who', '--user', 'CAROL@Example.com', '--at', during],
        ['access', '--from', created!.occurredAt.toISOString(), '--to', after, '--resource', 'prod-admin'],
      ]);
      expect(revoked!.details).toMatchObject({ verified: true, listed_at: expect.any(String) });
      const granted = expect.objectContaining({ kind: 'grant', request_id: String(requestId), approved_by: ['U0BOB'], ticket: 'INC-90', reason: 'INC-90 rotate keys' });
      const interval = {
        resource: 'prod-admin',
        basis: granted,
        from,
        start: 'recorded',
        to: revoked!.details.revoked_at,
        ended: { how: 'expired', at: revoked!.details.revoked_at, by: 'breakglass', reason: 'expired', seen_gone_at: revoked!.details.listed_at, last_seen_at: null },
      };
      expect(intervalsOf(atThen!, 'U0CAROL')).toEqual([expect.objectContaining(interval)]);
      expect(herThen!.holders).toEqual([expect.objectContaining(interval)]);
      expect(intervalsOf(period!, 'U0CAROL', emailOf('carol'))).toEqual([expect.objectContaining(interval)]);
    });

    it('IAM did not apply it and the connection dropped: listed absent, recorded failed, the requester told nothing changed', async () => {
      const stop = h.iam.dropWhen(about('AddUserToGroup', 'dave'), { apply: false });
      try {
        const { requestId, clicked } = await approve('U0DAVE', 'prod-admin 1h INC-91 check alarms');
        expect(await clicked.reply(WAIT)).toMatch(/^Approved, but the grant failed: .*AddUserToGroup/);
        const failed = await waitForEvent(h, requestId, 'grant.failed', WAIT);
        expect(failed).toMatchObject({ subject: 'U0DAVE', details: { provider_check: 'absent', extension: false, error: expect.stringMatching(/AddUserToGroup/) } });
        expect(failed.details).not.toHaveProperty('provider_cleanup');
        await waitForDm(h, 'U0DAVE', new RegExp(`\`prod-admin\` could not be granted \\(request #${requestId}\\).*Nothing was changed`));
        expect(iam().isMember('ProdAdmins', emailOf('dave'))).toBe(false);
        expect(await grantOf(h, requestId)).toMatchObject({ state: 'failed' });
        expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.failed']);
      } finally {
        stop();
      }
    });

    it('IAM unreachable for a while: in doubt, alerted once, the requester told breakglass is checking, retried by the worker until known', async () => {
      // The grant is applied and its answer lost, and IAM cannot be listed either.
      const stopGrant = h.iam.dropWhen(about('AddUserToGroup', 'erin'), { apply: true });
      const stopList = h.iam.dropWhen(listing, { apply: false });
      const alertText = /Granting <@U0ERIN> access to `prod-admin` \(request #\d+\) got no answer/;
      let requestId: number;
      try {
        const approved = await approve('U0ERIN', 'prod-admin 2h INC-92 failover');
        requestId = approved.requestId;
        expect(await approved.clicked.reply(WAIT)).toMatch(/the provider did not answer; breakglass is checking whether access was granted/);
        const inDoubt = await waitForEvent(h, requestId, 'grant.in_doubt', WAIT);
        expect(inDoubt).toMatchObject({ actor: 'breakglass', subject: 'U0ERIN', details: { checking: true, error: expect.stringMatching(/AddUserToGroup/), check_error: expect.stringMatching(/GetGroup/) } });
        await waitForDm(h, 'U0ERIN', /The provider did not answer .*`prod-admin`.*breakglass is checking whether access was granted/);
        await h.slack.waitFor(() => securityAlerts(alertText)[0], WAIT, 'the security alert');
        expect(await grantOf(h, requestId)).toMatchObject({ state: 'checking' });

        // The worker lists IAM again after each backoff; every try fails, nothing more is recorded.
        for (let attempt = 2; attempt <= 5; attempt++) {
          const grant = (await grantOf(h, requestId))!;
          clock.set(new Date(grant.nextAttemptAt!.getTime() + 1));
          await h.slack.waitFor(async () => ((await grantOf(h, requestId))!.attempts >= attempt ? true : undefined), WAIT, `check ${attempt} failed`);
        }
        expect(await grantOf(h, requestId)).toMatchObject({ state: 'checking' });
        // Tried at IAM, not only refused by the circuit that spaces calls to a failing IAM.
        expect(h.iam.calls('GetGroup').filter((r) => r.errorCode === 'ConnectionDropped').length).toBeGreaterThanOrEqual(DEFAULT_RETRY.attempts);
      } finally {
        stopGrant();
        stopList();
      }
      // IAM answers again: a later check (as soon as the backoff, and the circuit's probe spacing, allow) finds the membership.
      const applied = await retriedUntil(requestId, 'grant.applied');
      expect(applied.details).toMatchObject({ confirmed_by: 'listing', in_doubt_since: expect.any(String) });
      await waitForDm(h, 'U0ERIN', new RegExp(`\`prod-admin\` is active until.*request #${requestId}`));
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'active', failureAlertedAt: null });
      expect(securityAlerts(alertText)).toHaveLength(1);
      const grantId = (await grantOf(h, requestId))!.id;
      expect(await h.bot.database.db.select().from(alerts).where(eq(alerts.grantId, grantId))).toHaveLength(1);
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.in_doubt', 'alert.raised', 'grant.applied']);

      clock.advance(2 * HOUR + 1_000);
      await waitForEvent(h, requestId, 'grant.revoked', WAIT);
      expect(iam().isMember('ProdAdmins', emailOf('erin'))).toBe(false);
    });

    it('a revoke answered NoSuchEntity while IAM still lists the membership: revoke_ineffective, alerted, not recorded revoked, retried', async () => {
      clock.advance(PROBE_EVERY_MS + 1);
      const { requestId } = await requestAndApprove(h, 'U0FRANK', 'prod-admin 1h INC-93 debug', ['U0BOB']);
      const stop = h.iam.failWhen(about('RemoveUserFromGroup', 'frank'), { status: 404, code: 'NoSuchEntity', message: `The user with name ${emailOf('frank')} cannot be found.` });
      const alertText = /Revoking <@U0FRANK>'s access to `prod-admin` \(request #\d+\) did not remove it/;
      try {
        clock.advance(HOUR + 1_000);
        const ineffective = await waitForEvent(h, requestId, 'grant.revoke_ineffective', WAIT);
        expect(ineffective).toMatchObject({ actor: 'breakglass', subject: 'U0FRANK', resource: 'prod-admin', details: { principal: emailOf('frank'), retrying: true, error: expect.stringMatching(/NoSuchEntity.*still lists/) } });
        await h.slack.waitFor(() => securityAlerts(alertText)[0], WAIT, 'the security alert');
        expect(await grantOf(h, requestId)).toMatchObject({ state: 'revoking' });
        expect(iam().isMember('ProdAdmins', emailOf('frank'))).toBe(true);
        // Retried: still not removed, still not recorded as revoked, no second alert.
        const first = (await grantOf(h, requestId))!;
        clock.set(new Date(first.nextAttemptAt!.getTime() + 1));
        await h.slack.waitFor(async () => ((await grantOf(h, requestId))!.attempts > first.attempts ? true : undefined), WAIT, 'the revoke retried');
        expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.revoke_ineffective', 'alert.raised']);
        expect(h.slack.messagesTo('U0FRANK').some((m) => /has ended/.test(textOf(m)))).toBe(false);
      } finally {
        stop();
      }
      await retriedUntil(requestId, 'grant.revoked');
      expect(iam().isMember('ProdAdmins', emailOf('frank'))).toBe(false);
      expect(securityAlerts(alertText)).toHaveLength(1);
      await waitForDm(h, 'U0FRANK', new RegExp(`\`prod-admin\` has ended \\(request #${requestId}\\)`));
    });

    it('an IAM user renamed while holding the group grant: found by the UserId kept at grant time, removed under the new name, recorded revoked', async () => {
      clock.advance(PROBE_EVERY_MS + 1);
      const { requestId } = await requestAndApprove(h, 'U0DAVE', 'prod-admin 1h INC-94 debug', ['U0BOB']);
      const userId = iam().users.get(emailOf('dave'))!.UserId;
      expect(await grantOf(h, requestId)).toMatchObject({ principalId: userId });
      expect((await eventsOf(h, requestId)).find((e) => e.kind === 'grant.applied')?.details).toMatchObject({ principal_id: userId });
      // An administrator renames the user through IAM's UpdateUser; the membership stays, under the new name.
      const admin = new IAMClient({ region: 'us-east-1', endpoint: h.iam.url, credentials: h.iam.credentials, maxAttempts: 1 });
      await admin.send(new UpdateUserCommand({ UserName: emailOf('dave'), NewUserName: 'dave.renamed' }));
      admin.destroy();
      expect(iam().isMember('ProdAdmins', 'dave.renamed')).toBe(true);
      // A drift pass meanwhile sees the grant's holder under the new name: granted access, not drift.
      const provider = new AwsIamProvider({ iamEndpoint: h.iam.url, stsEndpoint: h.iam.url, credentials: h.iam.credentials });
      try {
        expect(await reconcileDrift(useCaseDeps(h.bot.database.db, { accessYml: ACCESS, clock, provider }))).toEqual([]);
      } finally {
        provider.destroy();
      }
      const seen = (await ledger(h)).find((e) => e.kind === 'access.observed' && e.details.principal === 'dave.renamed');
      expect(seen?.details).toMatchObject({ basis_hint: 'grant', grant_id: (await grantOf(h, requestId))!.id });

      clock.advance(HOUR + 1_000);
      const revoked = await waitForEvent(h, requestId, 'grant.revoked', WAIT);
      expect(revoked).toMatchObject({ subject: 'U0DAVE', resource: 'prod-admin' });
      expect(iam().members('ProdAdmins')).not.toContain('dave.renamed');
      expect(h.iam.calls('RemoveUserFromGroup').filter((r) => /dave/.test(r.params['UserName'] ?? '')).map((r) => r.params['UserName'])).toEqual([emailOf('dave'), 'dave.renamed']);
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).not.toContain('grant.revoke_ineffective');
      await waitForDm(h, 'U0DAVE', new RegExp(`\`prod-admin\` has ended \\(request #${requestId}\\)`));

      // The listing after the removal under the new name saw it gone; the inventory recorded that with the revoke.
      expect(revoked.details).toMatchObject({ verified: true, listed_at: expect.any(String) });
      const gone = (await ledger(h)).find((e) => e.kind === 'access.gone' && e.details.principal === 'dave.renamed');
      expect(gone?.details).toMatchObject({ source: 'revoke', person: 'U0DAVE', listed_at: revoked.details.listed_at, last_seen_at: seen!.details.listed_at });
      // Asked through the CLI: while renamed, the one holder was the grant's (also found by the new name), never
      // unmanaged access; it expired, removed under the new name, and was seen gone.
      const applied = (await eventsOf(h, requestId)).find((e) => e.kind === 'grant.applied')!;
      const during = String(seen!.details.listed_at);
      const after = new Date(Date.parse(String(revoked.details.revoked_at)) + 1_000).toISOString();
      const [atThen, byNewName, period] = await askAccessRecord(h, database, [
        ['who', 'prod-admin', '--at', during],
        ['who', '--user', 'Dave.Renamed', '--at', during],
        ['access', '--from', String(applied.details.starts_at), '--to', after, '--resource', 'prod-admin'],
      ]);
      const interval = {
        resource: 'prod-admin',
        basis: expect.objectContaining({ kind: 'grant', request_id: String(requestId), approved_by: ['U0BOB'], ticket: 'INC-94' }),
        from: applied.details.starts_at,
        to: revoked.details.revoked_at,
        ended: { how: 'expired', at: revoked.details.revoked_at, by: 'breakglass', reason: 'expired', seen_gone_at: revoked.details.listed_at, last_seen_at: seen!.details.listed_at },
      };
      expect(atThen!.holders).toEqual([expect.objectContaining(interval)]);
      expect(intervalsOf(atThen!, 'dave.renamed')).toHaveLength(1);
      expect(byNewName!.holders).toEqual([expect.objectContaining(interval)]);
      expect(intervalsOf(period!, 'U0DAVE', 'dave.renamed', emailOf('dave'))).toEqual([expect.objectContaining(interval)]);
    });

    it('leaves an intact ledger and made only calls Slack accepts', async () => {
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
