import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvRow, EXPORT_COLUMNS } from '../../src/evidence/export.ts';
import type { StoredEvent } from '../../src/evidence/event.ts';

/** The export's CSV row as csv-stringify (default options) writes it: the reference. */
function reference(event: StoredEvent): string {
  const record: Record<string, unknown> = {
    seq: event.seq,
    occurred_at: event.occurredAt.toISOString(),
    kind: event.kind,
    actor: event.actor,
    subject: event.subject,
    resource: event.resource,
    request_id: event.requestId,
    details: JSON.stringify(event.details),
    hash: event.hash,
    prev_hash: event.prevHash,
  };
  return stringify([EXPORT_COLUMNS.map((column) => record[column])]);
}

describe('csvRow', () => {
  it('writes exactly what csv-stringify writes, for any text', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', '\t', '=', '-', 'é', '😀') });
    const nullable = fc.oneof(text, fc.constant(null));
    fc.assert(
      fc.property(
        fc.record({ seq: fc.integer({ min: 1 }), kind: text, actor: text, subject: nullable, resource: nullable, requestId: nullable, details: fc.dictionary(text, fc.jsonValue()), hash: text, prevHash: text }),
        fc.date({ min: new Date('1970-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }),
        (fields, occurredAt) => {
          const event = { ...fields, occurredAt } as StoredEvent;
          expect(csvRow(event)).toBe(reference(event));
        },
      ),
      { numRuns: 3_000 },
    );
  });
});
