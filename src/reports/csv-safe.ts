import { stringify } from 'csv-stringify/sync';

/**
 * CSV that opens safely in a spreadsheet (OWASP, "CSV Injection"): a text cell starting with `=`,
 * `+`, `-`, `@`, a tab or a carriage return would be read as a formula, so it gets a leading `'`
 * (which spreadsheets show, and which says the cell was changed). A hash a spreadsheet would read
 * as a number (only digits, e.g. the genesis hash of 64 zeros, which Excel shows as `0`, or digits
 * around one `e`) gets the same prefix. NULL is an empty field, an empty text a quoted `""`, as
 * PostgreSQL's COPY writes them. Files start with a UTF-8 byte order mark unless asked not to, so
 * Excel reads them as UTF-8.
 */

export const BOM = '\uFEFF';

const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER_LIKE_HASH = /^[0-9]+(e[0-9]+)?$/i;

/** A text cell as written to CSV. */
export function safeCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** A hex hash as written to CSV. */
export function safeHash(value: string): string {
  return NUMBER_LIKE_HASH.test(value) ? `'${value}` : value;
}

/** The same rule in SQL, for the CSV PostgreSQL's COPY writes: one CASE on the first character. */
export function safeCellSql(expression: string): string {
  return `case when left(${expression}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${expression} else ${expression} end`;
}

export function safeHashSql(expression: string): string {
  return `case when ${expression} ~* '^[0-9]+(e[0-9]+)?$' then '''' || ${expression} else ${expression} end`;
}

/** The conventions above, for the people who open the files (the pack's README.md). */
export const CSV_CONVENTIONS = [
  'Files are UTF-8 (with a byte order mark, unless written with `--no-bom`), RFC 4180 quoting, a header row; booleans are `true`/`false`, times UTC ISO-8601 with milliseconds.',
  "A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return has a `'` put in front of it (OWASP's advice against CSV injection), so a spreadsheet shows it as text instead of running it as a formula; so does a hash of digits only (e.g. 64 zeros), which a spreadsheet would turn into a number. Remove that one leading `'` to get the value recorded.",
  'An empty field (`,,`) is null: nothing recorded. An empty text is written `""`.',
];

export type Cell = string | number | boolean | null | undefined;

/**
 * RFC 4180 CSV with a header row: text neutralised, numbers and booleans (true/false) as they
 * are, null as an empty field, "" quoted. `hashColumns` are written with safeHash instead.
 */
export function toSafeCsv(columns: readonly string[], rows: Array<Record<string, Cell>>, options: { bom?: boolean; hashColumns?: readonly string[] } = {}): string {
  const hashes = new Set(options.hashColumns ?? []);
  const cell = (column: string, value: Cell): Cell => (typeof value === 'string' ? (hashes.has(column) ? safeHash(value) : safeCell(value)) : value);
  const body = stringify([columns as string[], ...rows.map((row) => columns.map((c) => cell(c, row[c]) ?? null))], {
    // An empty text is quoted and a null is not, which is how the reader tells them apart.
    quoted_match: /^$/,
    cast: { boolean: (value) => String(value) },
  });
  return `${options.bom === false ? '' : BOM}${body}`;
}
