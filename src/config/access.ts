import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { closest } from 'fastest-levenshtein';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ZodDefault, ZodObject, ZodOptional, ZodPipe, ZodRecord, ZodTransform, type z } from 'zod';
import { accessSchema, type AccessConfig } from './access-schema.ts';

export interface LoadedAccessConfig {
  config: AccessConfig;
  /** SHA-256 of the file's bytes: the policy version every decision is tied to. */
  hash: string;
  path: string;
  /** The file's text as read: kept in the database so any version can be rendered again later. */
  text: string;
}

/** One problem in access.yml, located so a person can go straight to it. */
export interface ConfigProblem {
  path: string;
  line: number;
  column: number;
  message: string;
}

export class AccessConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `${file} is not valid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${file}:${p.line}:${p.column} ${p.path || '(top level)'}: ${p.message}`).join('\n'),
    );
    this.name = 'AccessConfigError';
  }
}

export function loadAccessConfig(path: string): LoadedAccessConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : String(error);
    throw new AccessConfigError(path, [
      { path: '', line: 1, column: 1, message: `${reason}; copy access.example.yml to ${path} or point ACCESS_CONFIG at your file` },
    ]);
  }
  return { config: parseAccessConfig(text, path), hash: createHash('sha256').update(text).digest('hex'), path, text };
}

export function parseAccessConfig(text: string, file = 'access.yml'): AccessConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new AccessConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (error) {
    // An alias to an anchor that is not defined (before it), or aliases expanding without bound.
    const pos = locate(aliasOffset(doc), lineCounter);
    throw new AccessConfigError(file, [{ path: '', ...pos, message: `YAML: ${(error as Error).message}; write the value out instead of using anchors and aliases` }]);
  }
  const result = accessSchema.safeParse(data);
  if (result.success) return result.data;
  throw new AccessConfigError(file, result.error.issues.flatMap((issue) => describeIssue(issue, doc, lineCounter)));
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigProblem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const parent = doc.getIn(path, true);
    const known = knownKeys(issue.path);
    return issue.keys.map((key) => {
      const keyNode = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === key)?.key : undefined;
      const offset = isScalar(keyNode) ? keyNode.range?.[0] : undefined;
      const suggestion = known.length > 0 ? `; did you mean "${closest(key, known)}"?` : '';
      return {
        ...locate(offset ?? nodeOffset(doc, path), lines),
        path: [...path, key].join('.'),
        message: `unknown key "${key}"${suggestion} (allowed: ${known.join(', ')})`,
      };
    });
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && issue.input === undefined) message = `missing; ${path.at(-1) ?? 'this'} is required`;
  return [{ ...locate(nodeOffset(doc, path), lines), path: path.join('.'), message }];
}

/** The keys the schema allows at a path, for "did you mean"; read from the schema so the two never disagree. */
function knownKeys(path: PropertyKey[]): string[] {
  let schema: z.core.$ZodType | undefined = unwrap(accessSchema);
  for (const segment of path) {
    if (schema instanceof ZodRecord) schema = unwrap(schema.valueType as z.core.$ZodType);
    else if (schema instanceof ZodObject) schema = unwrap(schema.shape[String(segment)] as z.core.$ZodType | undefined);
    else return [];
  }
  return schema instanceof ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = schema;
  for (;;) {
    if (current instanceof ZodDefault || current instanceof ZodOptional) current = current.unwrap() as z.core.$ZodType;
    // A preprocess step is a pipe from a transform: its shape is on the other side.
    else if (current instanceof ZodPipe) current = (current.in instanceof ZodTransform ? current.out : current.in) as z.core.$ZodType;
    else return current;
  }
}

/**
 * Where to point for a path: the key that introduces the nearest existing node (so a missing key
 * is reported on its parent's line), or the node itself for list items.
 */
function nodeOffset(doc: Document, path: string[]): number {
  for (let depth = path.length; depth > 0; depth--) {
    const parent = doc.getIn(path.slice(0, depth - 1), true);
    const name = path[depth - 1];
    if (isMap(parent)) {
      const key = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === name)?.key;
      if (isScalar(key) && key.range) return key.range[0];
    }
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return node.range[0];
  }
  return 0;
}

/** Where the first alias that cannot be resolved is, else the first alias: what toJS refuses is about aliases. */
function aliasOffset(doc: Document): number {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      first ??= node.range?.[0];
      if (node.resolve(doc) === undefined) {
        unresolved = node.range?.[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return unresolved ?? first ?? 0;
}

function locate(offset: number, lines: LineCounter): { line: number; column: number } {
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}
