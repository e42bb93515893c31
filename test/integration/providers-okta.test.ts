import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type GrantSpec } from '../../src/ports.ts';
import { OktaProvider } from '../../src/providers/okta/okta-provider.ts';
import { OktaVerifyPush } from '../../src/providers/okta/okta-verify.ts';
import { startOktaServer, type OktaRecordedRequest, type OktaTestServer } from '../support/okta-server.ts';
import { peersPath } from '../support/slack-requests.ts';

const fast = { retry: { attempts: 3, baseMs: 1, maxMs: 20 } };

let okta: OktaTestServer;
let provider: OktaProvider;
let groupId: string;

function spec(email: string, overrides: Partial<GrantSpec> = {}): GrantSpec {
  return {
    grantId: 'grant-1',
    resource: 'prod-db',
    target: { kind: 'okta_group', groupId },
    person: { email },
    expiresAt: new Date(Date.now() + 3_600_000),
    ...overrides,
  };
}

const membershipCalls = (method: string) =>
  okta.requests.filter((r) => r.method === method && /^\/api\/v1\/groups\/[^/]+\/users\/[^/]+$/.test(r.path));

beforeEach(async () => {
  okta = await startOktaServer();
  okta.addUser({ login: 'alice@example.com', firstName: 'Alice', lastName: 'Liddell', managerId: '00umanager', costCenter: 'R&D', slackId: 'U0ALICE' });
  groupId = okta.addGroup({ name: 'prod-db' }).id;
  provider = new OktaProvider({ orgUrl: okta.url, token: okta.token }, fast);
});

afterEach(async () => {
  await okta.close();
});

describe('OktaProvider grant and revoke', () => {
  it('adds the person to the group by Okta user id', async () => {
    await provider.grant(spec('alice@example.com'));
    expect(okta.isMember(groupId, 'alice@example.com')).toBe(true);
    const [put] = membershipCalls('PUT');
    expect(put?.path).toBe(`/api/v1/groups/${groupId}/users/${okta.user('alice@example.com')!.id}`);
    expect(put?.headers['authorization']).toBe(`SSWS ${okta.token}`);
  });

  it('is idempotent: granting twice leaves one membership', async () => {
    await provider.grant(spec('alice@example.com'));
    await provider.grant(spec('alice@example.com'));
    expect(okta.memberLogins(groupId)).toEqual(['alice@example.com']);
  });

  it('removes the membership, and revoking what is gone succeeds', async () => {
    await provider.grant(spec('alice@example.com'));
    await provider.revoke(spec('alice@example.com'));
    expect(okta.isMember(groupId, 'alice@example.com')).toBe(false);
    await expect(provider.revoke(spec('alice@example.com'))).resolves.toBeUndefined();
  });

  it('treats a person Okta does not know as already revoked', async () => {
    // With the group's members it listed to be sure, for the caller to record.
    await expect(provider.revoke(spec('ghost@example.com'))).resolves.toEqual({ listed: expect.not.arrayContaining([expect.objectContaining({ principal: 'ghost@example.com' })]) });
    expect(membershipCalls('DELETE')).toHaveLength(0);
  });

  it('treats a 404 on removal as already revoked', async () => {
    await expect(provider.revoke(spec('alice@example.com', { target: { kind: 'okta_group', groupId: '00gdeleted' } }))).resolves.toEqual({ listed: [] });
    expect(membershipCalls('DELETE').map((r) => r.status)).toEqual([404]);
  });

  it('finds a person by primary email when the login differs', async () => {
    okta.addUser({ login: 'bob', email: 'bob@example.com' });
    await provider.grant(spec('bob@example.com'));
    expect(okta.isMember(groupId, 'bob')).toBe(true);
    const search = okta.requests.find((r) => r.path === '/api/v1/users' && r.query['search']);
    expect(search?.query['search']).toBe('profile.email eq "bob@example.com"');
  });

  it('refuses to grant to an unknown person, clearly and for good', async () => {
    const err = await provider.grant(spec('ghost@example.com')).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: false });
    expect(err.message).toContain('ghost@example.com');
    expect(membershipCalls('PUT')).toHaveLength(0);
  });

  it.each(['SUSPENDED', 'DEPROVISIONED'] as const)('refuses to grant to a %s person', async (status) => {
    okta.setStatus('alice@example.com', status);
    await expect(provider.grant(spec('alice@example.com'))).rejects.toMatchObject({ transient: false, message: expect.stringContaining(status) });
    expect(okta.isMember(groupId, 'alice@example.com')).toBe(false);
  });

  it('refuses to guess between two live people sharing an email', async () => {
    okta.addUser({ login: 'carol1', email: 'carol@example.com' });
    okta.addUser({ login: 'carol2', email: 'carol@example.com' });
    await expect(provider.grant(spec('carol@example.com'))).rejects.toMatchObject({ transient: false, message: expect.stringMatching(/2 Okta users/) });
  });

  it('fails for good on an unknown group', async () => {
    await expect(provider.grant(spec('alice@example.com', { target: { kind: 'okta_group', groupId: '00gnope' } }))).rejects.toMatchObject({
      transient: false,
      status: 404,
    });
  });
});

describe('OktaProvider listAccess', () => {
  it('follows Link pagination and reports login and email', async () => {
    okta.maxPageSize = 2;
    const logins = ['u1@example.com', 'u2@example.com', 'u3@example.com', 'u4@example.com', 'u5@example.com'];
    for (const l of logins) {
      okta.addUser({ login: l });
      okta.addMember(groupId, l);
    }
    const entries = await provider.listAccess('prod-db', { kind: 'okta_group', groupId });
    expect(entries).toEqual(logins.map((l) => ({ resource: 'prod-db', principal: l, email: l, person: expect.objectContaining({ login: l, status: 'ACTIVE' }) })));
    const pages = okta.requests.filter((r) => r.path === `/api/v1/groups/${groupId}/users`);
    expect(pages).toHaveLength(3);
    expect(pages[0]!.query['limit']).toBe('200');
    expect(pages[1]!.query['after']).toBe(okta.user('u2@example.com')!.id);
  });

  it('returns an empty list for an empty group', async () => {
    await expect(provider.listAccess('prod-db', { kind: 'okta_group', groupId })).resolves.toEqual([]);
  });
});

describe('OktaProvider directory helpers', () => {
  const statusOf = async (ref: string) => (await provider.lookupUser(ref))?.status ?? 'NOT_FOUND';
  const attributeOf = async (ref: string, attr: string) => (await provider.lookupUser(ref))?.profile[attr];

  it('reads the status fresh every time (no SDK cache)', async () => {
    expect(await statusOf('alice@example.com')).toBe('ACTIVE');
    okta.setStatus('alice@example.com', 'SUSPENDED');
    expect(await statusOf('alice@example.com')).toBe('SUSPENDED');
    okta.setStatus('alice@example.com', 'DEPROVISIONED');
    expect(await statusOf('alice@example.com')).toBe('DEPROVISIONED');
    expect(await statusOf('ghost@example.com')).toBe('NOT_FOUND');
  });

  it('reads standard and custom profile attributes', async () => {
    expect(await attributeOf('alice@example.com', 'managerId')).toBe('00umanager');
    expect(await attributeOf('alice@example.com', 'slackId')).toBe('U0ALICE');
    expect(await attributeOf('alice@example.com', 'nothing')).toBeUndefined();
    expect(await attributeOf('ghost@example.com', 'managerId')).toBeUndefined();
  });

  it('looks a person up by Okta id too (how managerId points at a manager), never from a cache', async () => {
    const manager = okta.addUser({ login: 'mary@example.com' });
    await expect(provider.lookupUser(manager.id)).resolves.toMatchObject({ id: manager.id, login: 'mary@example.com', status: 'ACTIVE' });
    // The SDK's default cache keys on _links.self.href (the id URL): a second GET by id would be stale.
    okta.setStatus(manager.id, 'SUSPENDED');
    await expect(provider.lookupUser(manager.id)).resolves.toMatchObject({ status: 'SUSPENDED' });
  });
});

describe('OktaProvider failures', () => {
  const isPut = (r: OktaRecordedRequest) => r.method === 'PUT';

  it('retries a 500 and succeeds', async () => {
    okta.failNext(1, 500, isPut);
    await provider.grant(spec('alice@example.com'));
    expect(membershipCalls('PUT').map((r) => r.status)).toEqual([500, 204]);
    expect(okta.isMember(groupId, 'alice@example.com')).toBe(true);
  });

  it('retries a 429 carrying Okta rate-limit headers', async () => {
    okta.failNext(1, { status: 429, resetInSeconds: 1 }, isPut);
    const started = Date.now();
    await provider.grant(spec('alice@example.com'));
    expect(membershipCalls('PUT').map((r) => r.status)).toEqual([429, 204]);
    expect(Date.now() - started).toBeLessThan(1000); // waits at most maxMs, not the full reset window
  });

  it('surfaces a persistent 500 as ProviderError(transient=true) after the budget', async () => {
    okta.failWhen(isPut, 500);
    const err = await provider.grant(spec('alice@example.com')).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: true, status: 500 });
    expect(membershipCalls('PUT')).toHaveLength(3);
  });

  it('surfaces a 403 as ProviderError(transient=false) without retrying', async () => {
    okta.failNext(1, 403, isPut);
    await expect(provider.grant(spec('alice@example.com'))).rejects.toMatchObject({ transient: false, status: 403 });
    expect(membershipCalls('PUT')).toHaveLength(1);
  });

  it('surfaces a bad token as ProviderError(transient=false)', async () => {
    const wrong = new OktaProvider({ orgUrl: okta.url, token: 'wrong' }, fast);
    await expect(wrong.lookupUser('alice@example.com')).rejects.toMatchObject({ transient: false, status: 401 });
  });

  it('retries a refused connection and then reports it as transient', async () => {
    const url = okta.url;
    await okta.close();
    const gone = new OktaProvider({ orgUrl: url, token: 'x' }, fast);
    await expect(gone.lookupUser('alice@example.com')).rejects.toMatchObject({ transient: true });
    okta = await startOktaServer(); // for afterEach
  });
});

describe('OktaProvider configuration', () => {
  it('ignores OKTA_CLIENT_* variables and okta.yaml files', async () => {
    const saved = { ...process.env };
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'okta-yaml-'));
    writeFileSync(
      join(dir, 'okta.yaml'),
      'okta:\n  client:\n    orgUrl: https://evil.example.com\n    token: yaml-token\n    authorizationMode: PrivateKey\n    clientId: x\n',
    );
    try {
      Object.assign(process.env, {
        OKTA_CLIENT_ORGURL: 'https://wrong.example.com',
        OKTA_CLIENT_TOKEN: 'env-token',
        OKTA_CLIENT_AUTHORIZATIONMODE: 'PrivateKey',
        OKTA_CLIENT_CLIENTID: 'env-client',
      });
      process.chdir(dir);
      const p = new OktaProvider({ orgUrl: okta.url, token: okta.token }, fast);
      await p.grant(spec('alice@example.com'));
      expect(okta.isMember(groupId, 'alice@example.com')).toBe(true);
      expect(okta.requests.every((r) => r.headers['authorization'] === `SSWS ${okta.token}`)).toBe(true);
    } finally {
      process.chdir(cwd);
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('accepts plain http only on loopback', () => {
    expect(() => new OktaProvider({ orgUrl: 'http://example.okta.com', token: 't' })).toThrow(/https/);
    expect(() => new OktaProvider({ orgUrl: 'https://example.okta.com', token: '' })).toThrow(/token/);
    expect(() => new OktaProvider({ orgUrl: 'https://example.okta.com', token: 't' })).not.toThrow();
  });

  it('supports okta_group targets only', () => {
    expect(provider.supports({ kind: 'okta_group', groupId: 'g' })).toBe(true);
    expect(provider.supports({ kind: 'aws_iam_group', groupName: 'g' })).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// The wire server's answers against Okta's own OpenAPI document (a subset of JSON Schema is enough).

const OKTA_SPEC = peersPath('okta', 'management-minimal.prism.json');
type Schema = Record<string, unknown>;

function schemaErrors(spec: Schema, schema: Schema, value: unknown, at = '$', strict = true): string[] {
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const target = ref.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Schema)[k], spec) as Schema;
    return schemaErrors(spec, target, value, at, strict);
  }
  if (value === null) return schema['nullable'] ? [] : [`${at}: null but not nullable`];
  const errors: string[] = [];
  for (const sub of (schema['allOf'] as Schema[] | undefined) ?? []) errors.push(...schemaErrors(spec, sub, value, at, false));
  const anyOf = schema['anyOf'] as Schema[] | undefined;
  if (anyOf && !anyOf.some((sub) => schemaErrors(spec, sub, value, at, false).length === 0)) errors.push(`${at}: matches no anyOf branch`);
  const type = schema['type'];
  const actual = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (type && !(type === actual || (type === 'number' && actual === 'integer'))) return [...errors, `${at}: ${actual}, expected ${String(type)}`];
  const enumValues = schema['enum'] as unknown[] | undefined;
  if (enumValues && !enumValues.includes(value)) errors.push(`${at}: ${String(value)} not in enum`);
  if (schema['format'] === 'date-time' && Number.isNaN(Date.parse(String(value)))) errors.push(`${at}: not a date-time`);
  if (typeof value === 'string') {
    if (typeof schema['minLength'] === 'number' && value.length < schema['minLength']) errors.push(`${at}: too short`);
    if (typeof schema['maxLength'] === 'number' && value.length > schema['maxLength']) errors.push(`${at}: too long`);
  }
  if (Array.isArray(value) && schema['items']) value.forEach((v, i) => errors.push(...schemaErrors(spec, schema['items'] as Schema, v, `${at}[${i}]`)));
  const props = schema['properties'] as Record<string, Schema> | undefined;
  if (props && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (props[k]) errors.push(...schemaErrors(spec, props[k], v, `${at}.${k}`));
      else if (strict && schema['additionalProperties'] === undefined && !schema['allOf']) errors.push(`${at}.${k}: not in the schema`);
    }
    for (const r of (schema['required'] as string[] | undefined) ?? []) if (!(r in (value as object))) errors.push(`${at}.${r}: required`);
  }
  return errors;
}

describe('the Okta test server against Okta\'s OpenAPI document', () => {
  const spec = JSON.parse(readFileSync(OKTA_SPEC, 'utf8')) as Schema;
  const schema = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
  const get = async (path: string, token = okta.token) => {
    const res = await fetch(`${okta.url}${path}`, { headers: { Authorization: `SSWS ${token}`, Accept: 'application/json' } });
    return { res, body: res.status === 204 ? undefined : await res.json() };
  };

  it('answers users, user lists and groups in the User and Group shapes', async () => {
    const alice = okta.user('alice@example.com')!;
    okta.addMember(groupId, alice.id);
    const one = await get(`/api/v1/users/${alice.id}`);
    expect(schemaErrors(spec, schema('User'), one.body)).toEqual([]);
    const list = await get(`/api/v1/groups/${groupId}/users`);
    expect(list.body).toHaveLength(1);
    expect(schemaErrors(spec, { type: 'array', items: schema('User') }, list.body)).toEqual([]);
    const search = await get(`/api/v1/users?search=${encodeURIComponent('profile.email eq "alice@example.com"')}`);
    expect(schemaErrors(spec, { type: 'array', items: schema('User') }, search.body)).toEqual([]);
    const group = await get(`/api/v1/groups/${groupId}`);
    expect(schemaErrors(spec, schema('Group'), group.body)).toEqual([]);
  });

  it('answers errors in the Error shape, with rate-limit headers on a 429', async () => {
    const missing = await get('/api/v1/users/nobody@example.com');
    expect(missing.res.status).toBe(404);
    expect(schemaErrors(spec, schema('Error'), missing.body)).toEqual([]);
    expect(missing.body).toMatchObject({ errorCode: 'E0000007' });
    const unauthorized = await get('/api/v1/users/alice@example.com', 'wrong');
    expect(unauthorized.res.status).toBe(401);
    expect(unauthorized.body).toMatchObject({ errorCode: 'E0000011' });
    okta.failNext(1, 429);
    const limited = await get('/api/v1/users/alice@example.com');
    expect(limited.res.status).toBe(429);
    expect(schemaErrors(spec, schema('Error'), limited.body)).toEqual([]);
    expect(limited.res.headers.get('x-rate-limit-remaining')).toBe('0');
    expect(Number(limited.res.headers.get('x-rate-limit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });

  it('the schema check itself catches a wrong shape', () => {
    expect(schemaErrors(spec, schema('User'), { id: 1, status: 'NOPE', bogus: true })).toHaveLength(3);
  });
});

/** Every key path of a JSON value, arrays' items as `[]`: the shape without the values. */
function keysOf(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return [...new Set(value.flatMap((v) => keysOf(v, `${at}[]`)))].sort();
  if (typeof value !== 'object' || value === null) return [at];
  return Object.entries(value).flatMap(([k, v]) => keysOf(v, `${at}.${k}`)).sort();
}

describe('Okta Verify push over the Factors API (access.yml approval: { step_up: okta_verify })', () => {
  const spec = JSON.parse(readFileSync(OKTA_SPEC, 'utf8')) as Schema;
  const schema = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
  let verifier: OktaVerifyPush;
  let alice: string;
  beforeEach(() => {
    verifier = new OktaVerifyPush(provider.client, fast.retry);
    alice = okta.user('alice@example.com')!.id;
  });

  it('takes the ACTIVE Okta Verify push factor, ignoring other factors, pending ones and other vendors', async () => {
    okta.addFactor(alice, { factorType: 'sms' });
    okta.addFactor(alice, { factorType: 'push', status: 'PENDING_ACTIVATION' });
    okta.addFactor(alice, { factorType: 'push', provider: 'DUO' });
    expect(await verifier.pushFactor(alice)).toBeUndefined();
    const push = okta.addFactor(alice);
    expect(await verifier.pushFactor(alice)).toBe(push.id);
    expect(okta.requests.filter((r) => r.path.endsWith('/factors')).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /api/v1/users/${alice}/factors`, `GET /api/v1/users/${alice}/factors`]);
  });

  it('sends one push and reads its transaction until the answer: WAITING, then SUCCESS, REJECTED or TIMEOUT', async () => {
    const push = okta.addFactor(alice);
    for (const result of ['SUCCESS', 'REJECTED', 'TIMEOUT'] as const) {
      okta.scriptPush(alice, { result, afterPolls: 1 });
      const sent = await verifier.sendPush(alice, push.id);
      expect(sent).toEqual({ factorId: push.id, transactionId: okta.pushes.at(-1)!.transactionId, result: 'WAITING' });
      expect(await verifier.pushResult(alice, push.id, sent.transactionId)).toBe('WAITING');
      expect(await verifier.pushResult(alice, push.id, sent.transactionId)).toBe(result);
    }
    expect(okta.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
  });

  it('never retries the push itself, and says when Okta does not know the user', async () => {
    const push = okta.addFactor(alice);
    okta.failNext(1, 503, (r) => r.path.endsWith('/verify'));
    await expect(verifier.sendPush(alice, push.id)).rejects.toBeInstanceOf(ProviderError);
    expect(okta.pushes).toHaveLength(0);
    expect(okta.requests.filter((r) => r.path.endsWith('/verify'))).toHaveLength(1);
    await expect(verifier.pushFactor('00unobody')).rejects.toMatchObject({ status: 404, transient: false });
  });

  it('the test server answers factors, the push challenge and its transactions in the spec\'s shapes', async () => {
    const push = okta.addFactor(alice);
    const call = async (method: string, path: string, body?: string) => {
      const res = await fetch(`${okta.url}${path}`, { method, headers: { Authorization: `SSWS ${okta.token}`, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const list = await call('GET', `/api/v1/users/${alice}/factors`);
    expect(schemaErrors(spec, { type: 'array', items: schema('UserFactorPush') }, list.body)).toEqual([]);
    const challenge = await call('POST', `/api/v1/users/${alice}/factors/${push.id}/verify`);
    expect(challenge.status).toBe(201);
    expect(schemaErrors(spec, schema('UserFactorVerifyResponseWaiting'), challenge.body)).toEqual([]);
    const poll = new URL((challenge.body as { _links: { poll: { href: string } } })._links.poll.href).pathname;
    const shapes = { WAITING: 'UserFactorPushTransactionWaitingNoNMC', SUCCESS: 'UserFactorPushTransaction', REJECTED: 'UserFactorPushTransactionRejected', TIMEOUT: 'UserFactorPushTransactionTimeout' } as const;
    const examples = spec['components'] as { examples: Record<string, { value: unknown }> };
    for (const [result, shape] of Object.entries(shapes)) {
      okta.scriptPush(alice, { result: result as keyof typeof shapes });
      const answer = await call('GET', poll);
      expect(answer.body).toMatchObject({ factorResult: result });
      // The spec's schema types REJECTED's and TIMEOUT's `_links.factor` as a whole UserFactor, but
      // its own examples (what Okta sends) give a link there: that link is checked against them.
      const { factor, ...links } = ((answer.body as { _links?: Record<string, unknown> })._links ?? {}) as Record<string, unknown>;
      expect(schemaErrors(spec, schema(shape), { ...(answer.body as object), ...(factor ? { _links: links } : {}) }), result).toEqual([]);
      const example = examples.examples[`UserFactorVerifyPushTransaction${result === 'SUCCESS' ? 'Approved' : result[0] + result.slice(1).toLowerCase()}`]!.value;
      expect(keysOf(answer.body), result).toEqual(keysOf(example));
    }
    expect((await call('POST', `/api/v1/users/${alice}/factors/${push.id}/verify`, '{"passCode":"123456"}')).status).toBe(400);
  });
});
