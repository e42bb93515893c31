import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/ledger/canonical-json.ts';
import { canonicalContent } from '../../src/ledger/event.ts';

/** What the library does, errors included, so the two can be compared on anything. */
function outcome(run: () => string | undefined): { text?: string | undefined; error?: true } {
  try {
    return { text: run() };
  } catch {
    return { error: true };
  }
}

describe('canonicalJson (RFC 8785) writes exactly what the canonicalize package writes', () => {
  it('on arbitrary JSON values, including unicode, escapes and awkward numbers', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it('on arbitrary JavaScript values, throwing where it throws', () => {
    const anything = fc.anything({ withBoxedValues: true, withNullPrototype: true, withDate: true, withSparseArray: true, withBigInt: true, withMap: true, withSet: true, withObjectString: true, withTypedArray: true });
    fc.assert(
      fc.property(anything, (value) => {
        expect(outcome(() => canonicalJson(value))).toEqual(outcome(() => canonicalize(value)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('on strings with lone surrogates, control characters, quotes and backslashes', () => {
    const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', 'é', '😀', '\ud800', '\udc00') });
    fc.assert(
      fc.property(text, fc.dictionary(text, text), (s, record) => {
        expect(outcome(() => canonicalJson(s))).toEqual(outcome(() => canonicalize(s)));
        expect(outcome(() => canonicalJson(record))).toEqual(outcome(() => canonicalize(record)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('on numbers, including -0, NaN, infinities and exponents', () => {
    for (const n of [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Number.MAX_VALUE, NaN, Infinity, -Infinity]) {
      expect(outcome(() => canonicalJson({ n }))).toEqual(outcome(() => canonicalize({ n })));
    }
  });

  it('on cycles and deep nesting', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/Circular/);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 500; i++) deep = i % 2 ? { k: deep } : [deep];
    expect(canonicalJson(deep)).toBe(canonicalize(deep));
  });
});

describe('canonicalContent', () => {
  const event = { seq: 7, occurredAt: new Date('2026-03-02T09:00:00.123Z'), kind: 'request.created', actor: 'U0ALICE', subject: null, resource: 'prod-db', requestId: '3', details: { reason: 'INC-1 "lag"\nline', n: 1 } };

  it('is the canonical JSON of the event fields, whatever their shape', () => {
    const expected = (e: typeof event | Record<string, unknown>) =>
      canonicalize({ seq: e.seq, occurred_at: (e.occurredAt as Date).toISOString(), kind: e.kind, actor: e.actor, subject: e.subject, resource: e.resource, request_id: e.requestId, details: e.details });
    expect(canonicalContent(event)).toBe(expected(event));
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.oneof(fc.integer(), fc.double()),
          kind: fc.oneof(fc.string(), fc.constant(undefined)),
          actor: fc.string(),
          subject: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined)),
          resource: fc.oneof(fc.string(), fc.constant(null)),
          requestId: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
          details: fc.oneof(fc.jsonValue(), fc.constant(undefined)),
        }),
        (fields) => {
          const e = { ...fields, occurredAt: event.occurredAt } as unknown as typeof event;
          expect(outcome(() => canonicalContent(e))).toEqual(outcome(() => expected(e)));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
