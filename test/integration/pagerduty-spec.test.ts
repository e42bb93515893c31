import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARED, INCLUDES, startPagerDutyServer, type PagerDutyTestServer } from '../support/pagerduty-server.ts';

/**
 * The hand-written PagerDuty server against PagerDuty's own OpenAPI document. The document states
 * no licence, so it is not vendored into test/peers: this runs where the shared peers folder is at
 * hand (BREAKGLASS_PEERS_DIR, or the workspace's /work/shared/peers) and is skipped elsewhere.
 */
const SPEC_PATH = [process.env.BREAKGLASS_PEERS_DIR, '/work/shared/peers']
  .filter((d): d is string => Boolean(d))
  .map((d) => `${d.replace(/\/payloads\/?$/, '')}/pagerduty/openapiv3.json`)
  .find((p) => existsSync(p));
if (!SPEC_PATH) console.warn('\n*** PagerDuty\'s OpenAPI document not found (set BREAKGLASS_PEERS_DIR): the PagerDuty test server is not checked against it in this run.\n');

type Schema = Record<string, unknown>;

function resolve(spec: Schema, schema: Schema): Schema {
  const ref = schema['$ref'];
  return typeof ref === 'string' ? resolve(spec, ref.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Schema)[k.replace(/~1/g, '/')], spec) as Schema) : schema;
}

/** The JSON Schema subset the two operations use: $ref, allOf, oneOf, type, enum, properties, required, items. */
function schemaErrors(spec: Schema, raw: Schema, value: unknown, at = '$'): string[] {
  const schema = resolve(spec, raw);
  if (value === null) return schema['nullable'] ? [] : [`${at}: null but not nullable`];
  const errors: string[] = [];
  for (const sub of (schema['allOf'] as Schema[] | undefined) ?? []) errors.push(...schemaErrors(spec, sub, value, at));
  const oneOf = schema['oneOf'] as Schema[] | undefined;
  if (oneOf && oneOf.filter((sub) => schemaErrors(spec, sub, value, at).length === 0).length !== 1) errors.push(`${at}: matches not exactly one oneOf branch`);
  const type = schema['type'];
  const actual = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (type && !(type === actual || (type === 'number' && actual === 'integer'))) return [...errors, `${at}: ${actual}, expected ${String(type)}`];
  const enumValues = schema['enum'] as unknown[] | undefined;
  if (enumValues && !enumValues.includes(value)) errors.push(`${at}: ${String(value)} not in enum`);
  if (schema['format'] === 'date-time' && Number.isNaN(Date.parse(String(value)))) errors.push(`${at}: not a date-time`);
  if (Array.isArray(value) && schema['items']) value.forEach((v, i) => errors.push(...schemaErrors(spec, schema['items'] as Schema, v, `${at}[${i}]`)));
  const props = schema['properties'] as Record<string, Schema> | undefined;
  if (props && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (props[k]) errors.push(...schemaErrors(spec, props[k], v, `${at}.${k}`));
    for (const r of (schema['required'] as string[] | undefined) ?? []) if (!(r in (value as object))) errors.push(`${at}.${r}: required`);
  }
  return errors;
}

describe.skipIf(!SPEC_PATH)('the PagerDuty test server against PagerDuty’s OpenAPI document', () => {
  let pd: PagerDutyTestServer;
  let spec: Schema;
  const operation = (path: string) => ((spec['paths'] as Schema)[path] as Schema)['get'] as Schema;
  const parameters = (path: string) => (operation(path)['parameters'] as Schema[]).map((p) => resolve(spec, p));
  const answerSchema = (path: string) => ((((operation(path)['responses'] as Schema)['200'] as Schema)['content'] as Schema)['application/json'] as Schema)['schema'] as Schema;
  const get = async (path: string) => {
    const res = await fetch(`${pd.url}${path}`, { headers: { Authorization: `Token token=${pd.token}`, Accept: 'application/vnd.pagerduty+json;version=2', 'Content-Type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  beforeAll(async () => {
    spec = JSON.parse(readFileSync(SPEC_PATH!, 'utf8')) as Schema;
    pd = await startPagerDutyServer();
    pd.users.push({ id: 'PUSER01', name: 'Zed Zimmer', email: 'zed@example.com' });
    pd.oncalls.push({ userId: 'PUSER01', scheduleId: 'PSCHED1', escalationPolicyId: 'PEP0001', escalationLevel: 1, start: '2026-01-01T00:00:00-05:00', end: '2099-01-01T00:00:00-05:00' });
  });
  afterAll(() => pd?.close());

  it('accepts exactly the query parameters each operation declares, with their include[] values', () => {
    for (const path of ['/users', '/oncalls']) {
      const query = parameters(path).filter((p) => p['in'] === 'query');
      expect(Object.keys(DECLARED[path]!).sort()).toEqual(query.map((p) => p['name']).sort());
      const include = query.find((p) => p['name'] === 'include[]')!['schema'] as Schema;
      expect(INCLUDES[path]).toEqual(include['enum']);
      // The headers the server insists on are the ones the spec marks required.
      expect(parameters(path).filter((p) => p['in'] === 'header' && p['required']).map((p) => p['name'])).toEqual(['Accept', 'Content-Type']);
    }
    expect((spec['components'] as Schema)['securitySchemes']).toMatchObject({ api_key: { type: 'apiKey', in: 'header', name: 'Authorization' } });
  });

  it('answers /users and /oncalls in the shapes the spec gives', async () => {
    const users = await get('/users?query=zed&limit=100&offset=0');
    expect(users.status).toBe(200);
    expect(schemaErrors(spec, answerSchema('/users'), users.body)).toEqual([]);
    const oncalls = await get('/oncalls?schedule_ids[]=PSCHED1&user_ids[]=PUSER01&limit=100&offset=0');
    expect(oncalls.status).toBe(200);
    expect((oncalls.body as { oncalls: unknown[] }).oncalls).toHaveLength(1);
    expect(schemaErrors(spec, answerSchema('/oncalls'), oncalls.body)).toEqual([]);
    // The check has teeth: a wrong shape is caught.
    expect(schemaErrors(spec, answerSchema('/oncalls'), { oncalls: [{ escalation_level: 'one', schedule: { id: 'P1', type: 'user_reference' } }] }).sort()).toEqual(['$.oncalls[0].escalation_level: string, expected integer', '$.oncalls[0].schedule: matches not exactly one oneOf branch']);
    expect(schemaErrors(spec, answerSchema('/users'), {})).toEqual(['$.users: required']);
  });

  it('refuses what the spec does not declare (escalation_levels[] is not a /oncalls filter) in its error shape', async () => {
    const refused = await get('/oncalls?escalation_levels[]=1');
    expect(refused.status).toBe(400);
    const errorSchema = ((((spec['components'] as Schema)['responses'] as Schema)['ArgumentError'] as Schema)['content'] as Schema)['application/json'] as Schema;
    expect(schemaErrors(spec, errorSchema['schema'] as Schema, refused.body)).toEqual([]);
    expect(pd.violations.at(-1)).toMatch(/declares no query parameter escalation_levels\[\]/);
  });
});
