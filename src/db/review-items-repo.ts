import { getTableColumns, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from './client.ts';
import { reviewItems } from './schema.ts';

type NewItem = typeof reviewItems.$inferInsert;

/** The columns a campaign writes when it opens (the rest keep their defaults). */
const WRITTEN = [
  'campaignId',
  'cardId',
  'resource',
  'principal',
  'email',
  'personName',
  'personSlack',
  'directoryId',
  'grantId',
  'requestId',
  'since',
  'sinceSource',
  'isNew',
  'route',
  'routeNote',
  'decision',
  'decidedBy',
  'decidedAt',
  'revokeState',
] as const satisfies ReadonlyArray<keyof NewItem>;

const columns = getTableColumns(reviewItems);
const names = sql.raw(WRITTEN.map((key) => `"${columns[key].name}"`).join(', '));
const recordset = sql.raw(WRITTEN.map((key) => `"${columns[key].name}" ${columns[key].getSQLType()}`).join(', '));

/**
 * Inserts a campaign's lines as one JSON parameter per batch (jsonb_to_recordset), the same on
 * PostgreSQL and PGlite. Building a drizzle insert of 30,000 rows × 19 columns allocates about a
 * gigabyte of query-builder objects; this allocates the JSON text. Returns the new ids by
 * `resource\nprincipal` when asked.
 */
export async function insertReviewItems(tx: Tx, rows: readonly NewItem[], options: { returnIds?: boolean } = {}): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (rows.length === 0) return ids;
  const json = JSON.stringify(
    rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const key of WRITTEN) {
        const value = row[key];
        out[columns[key].name] = value instanceof Date ? value.toISOString() : (value ?? null);
      }
      return out;
    }),
  );
  const returning = options.returnIds ? sql` returning "id", "resource", "principal"` : sql``;
  const result = await tx.execute(sql`insert into ${reviewItems} (${names}) select ${names} from jsonb_to_recordset(${json}::jsonb) as x(${recordset})${returning}`);
  if (options.returnIds) for (const r of rowsOf<{ id: number; resource: string; principal: string }>(result)) ids.set(`${r.resource}\n${r.principal}`, Number(r.id));
  return ids;
}
