import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JCS) canonical JSON, byte for byte what the `canonicalize` package produces, about
 * twice as fast on the plain JSON values events hold (verify and export run it once per event).
 *
 * Same rules as the package: object keys sorted by UTF-16 code units (Array.prototype.sort's
 * default order), members whose value is undefined or a symbol left out, such array elements
 * written as null, strings and numbers as JSON.stringify writes them (which is what RFC 8785
 * specifies), and an error for NaN, ±Infinity and strings with a lone surrogate. Anything that
 * is not plain JSON data (a toJSON method such as Date's, bigint, a function, very deep nesting
 * or a cycle) is handed to the package itself, so its behaviour there is its behaviour here.
 * test/unit/canonical-json.test.ts checks the two agree on arbitrary values.
 */
export function canonicalJson(value: unknown): string | undefined {
  return write(value, 0);
}

const MAX_DEPTH = 64;

function write(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return writeString(value);
    case 'number':
      if (Number.isNaN(value)) throw new Error('NaN is not allowed');
      if (!Number.isFinite(value)) throw new Error('Infinity is not allowed');
      // For a finite number JSON.stringify writes exactly String(value) (-0 included: "0").
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      // Deep or cyclic structures, and objects that serialise through toJSON: the package's own path.
      if (depth >= MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalize(value);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          // The package maps and joins element texts, so a hole, and an element that writes as
          // undefined, leave an empty slot.
          if (!(i in value)) continue;
          const item: unknown = value[i];
          out += item === undefined || typeof item === 'symbol' ? 'null' : (write(item, depth + 1) ?? '');
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = record[key];
        if (item === undefined || typeof item === 'symbol') continue;
        out += `${first ? '' : ','}${writeString(key)}:${write(item, depth + 1)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      // undefined, bigint, function, symbol at the top: whatever the package does.
      return canonicalize(value);
  }
}

/** What JSON.stringify escapes, and any surrogate code unit (paired or not: checked properly below). */
const NEEDS_CARE = /[\u0000-\u001f"\\\ud800-\udfff]/;
/** In a /u pattern a well-formed surrogate pair is one code point, so only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;

function writeString(text: string): string {
  // Most strings (ids, kinds, times, hashes) have nothing to escape: quoting them is all JSON.stringify would do.
  if (!NEEDS_CARE.test(text)) return `"${text}"`;
  if (LONE_SURROGATE.test(text)) throw new Error('Lone surrogate is not allowed');
  return JSON.stringify(text);
}

/** canonicalJson of a string (for callers that build a known object's canonical form member by member). */
export const canonicalString = writeString;
