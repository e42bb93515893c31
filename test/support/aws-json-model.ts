/**
 * botocore service models for AWS JSON 1.1 services, and a check of a request (or an answer)
 * against one: every member's type, required members, unions, lengths, ranges, enums and
 * patterns, reported in AWS's own ValidationException wording.
 */
import { readFileSync } from 'node:fs';
import { peersPath } from './slack-requests.ts';

export interface JsonModelShape {
  type: string;
  required?: string[];
  members?: Record<string, { shape: string }>;
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  union?: boolean;
  document?: boolean;
  exception?: boolean;
}

export interface JsonModel {
  metadata: { targetPrefix: string; signingName: string; jsonVersion: string; protocol: string };
  operations: Record<string, { input?: { shape: string }; output?: { shape: string }; errors?: Array<{ shape: string }> }>;
  shapes: Record<string, JsonModelShape>;
}

const cache = new Map<string, JsonModel>();

/** botocore's model of an AWS service, from test/peers/aws/<service>/service-2.json. */
export function loadJsonModel(service: 'sso-admin' | 'identitystore'): JsonModel {
  let model = cache.get(service);
  if (!model) {
    model = JSON.parse(readFileSync(peersPath('aws', service, 'service-2.json'), 'utf8')) as JsonModel;
    cache.set(service, model);
  }
  return model;
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function matchesJavaPattern(pattern: string, value: string): boolean {
  for (const flags of ['su', 's']) {
    try {
      return new RegExp(`^(?:${pattern})$`, flags).test(value);
    } catch {
      // Not every Java pattern compiles in JavaScript's unicode mode; try without it.
    }
  }
  return true;
}

/** What is wrong with `value` as the model's shape `shapeName`: AWS's ValidationException phrases, empty when nothing. */
export function validateShape(model: JsonModel, shapeName: string, value: unknown, path = ''): string[] {
  const shape = model.shapes[shapeName];
  if (!shape) return [`the model has no shape ${shapeName}`];
  const at = path || 'input';
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  const problem = (constraint: string) => `Value '${shown}' at '${at}' failed to satisfy constraint: ${constraint}`;
  if (shape.document) return [];
  switch (shape.type) {
    case 'structure':
      return validateStructure(model, shape, value, path);
    case 'list': {
      if (!Array.isArray(value)) return [problem('Member must be a list')];
      const out: string[] = [];
      if (shape.min !== undefined && value.length < shape.min) out.push(problem(`Member must have length greater than or equal to ${shape.min}`));
      if (shape.max !== undefined && value.length > shape.max) out.push(problem(`Member must have length less than or equal to ${shape.max}`));
      value.forEach((v, i) => out.push(...validateShape(model, shape.member!.shape, v, `${at}.${i + 1}.member`)));
      return out;
    }
    case 'map': {
      if (!isObject(value)) return [problem('Member must be a map')];
      return Object.entries(value).flatMap(([k, v]) => [...validateShape(model, shape.key!.shape, k, `${at}.key`), ...validateShape(model, shape.value!.shape, v, `${at}.${k}`)]);
    }
    case 'string': {
      if (typeof value !== 'string') return [problem('Member must be a string')];
      const out: string[] = [];
      const length = [...value].length;
      if (shape.min !== undefined && length < shape.min) out.push(problem(`Member must have length greater than or equal to ${shape.min}`));
      if (shape.max !== undefined && length > shape.max) out.push(problem(`Member must have length less than or equal to ${shape.max}`));
      if (shape.enum && !shape.enum.includes(value)) out.push(problem(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`));
      if (shape.pattern && !matchesJavaPattern(shape.pattern, value)) out.push(problem(`Member must satisfy regular expression pattern: ${shape.pattern}`));
      return out;
    }
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return [problem('Member must be an integer')];
      if ((shape.min !== undefined && value < shape.min) || (shape.max !== undefined && value > shape.max)) {
        return [problem(`Member must have value between ${shape.min ?? '-∞'} and ${shape.max ?? '∞'}`)];
      }
      return [];
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : [problem('Member must be a boolean')];
    case 'timestamp':
    case 'double':
    case 'float':
      // AWS JSON 1.1 sends timestamps as epoch seconds.
      return typeof value === 'number' && Number.isFinite(value) ? [] : [problem('Member must be a number')];
    case 'blob':
      return typeof value === 'string' ? [] : [problem('Member must be base64 text')];
    default:
      return [`the test server cannot check shape type ${shape.type}`];
  }
}

function validateStructure(model: JsonModel, shape: JsonModelShape, value: unknown, path: string): string[] {
  const at = path || 'input';
  if (!isObject(value)) return [`Value '${JSON.stringify(value)}' at '${at}' failed to satisfy constraint: Member must be a structure`];
  const prefix = path ? `${path}.` : '';
  const members = shape.members ?? {};
  const out: string[] = [];
  for (const name of shape.required ?? []) {
    if (value[name] === undefined || value[name] === null) out.push(`Value null at '${prefix}${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
  }
  for (const [name, v] of Object.entries(value)) {
    const ref = members[name];
    if (!ref) {
      out.push(`'${prefix}${lowerFirst(name)}' is not a member of this structure`);
      continue;
    }
    if (v !== null && v !== undefined) out.push(...validateShape(model, ref.shape, v, `${prefix}${lowerFirst(name)}`));
  }
  if (shape.union) {
    const set = Object.keys(value).filter((k) => value[k] !== null && value[k] !== undefined);
    if (set.length !== 1) out.push(`Value at '${at}' failed to satisfy constraint: exactly one member of the union must be set (got ${set.length})`);
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
