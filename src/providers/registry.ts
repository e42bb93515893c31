import { z } from 'zod';
import { ProviderError, type AccessProvider } from '../ports.ts';
import { awsIam } from './aws-iam/index.ts';
import { awsSso } from './aws-sso/index.ts';
import type { ProviderModule } from './module.ts';
import { manual } from './manual/index.ts';
import { okta } from './okta/index.ts';
import { postgresRole } from './postgres/index.ts';

/** Every provider breakglass can grant through; the only place that lists them. Order: setup and messages. */
export const PROVIDER_MODULES = [okta, awsIam, postgresRole, manual, awsSso] as const;

/** Where a resource's access lives: one module's target. Exactly one provider understands each kind. */
export type GrantTarget = ReturnType<(typeof PROVIDER_MODULES)[number]['toTarget']>;

type Module = (typeof PROVIDER_MODULES)[number];
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type AnyModule = ProviderModule<{ kind: string }, z.ZodRawShape, z.ZodRawShape, z.ZodRawShape>;
const modules = PROVIDER_MODULES as readonly AnyModule[];

const merged = <K extends 'grantFields' | 'personFields' | 'env'>(key: K) => Object.assign({}, ...modules.map((m) => m[key])) as UnionToIntersection<Module[K]>;

/** All modules' access.yml `grant:` fields, each optional; `grantTarget` checks that exactly one is given. */
export const grantFields = merged('grantFields');
/** All modules' fields in an access.yml `people:` entry. */
export const personFields = merged('personFields');
/** All modules' environment variables. */
export const providerEnv = merged('env');
export const providerEnvHints: Record<string, string> = Object.assign({}, ...modules.map((m) => m.envHints));

export function providerEnvProblems(present: Record<string, string | undefined>): Array<{ name: string; message: string }> {
  return modules.flatMap((m) => m.envProblems?.(present) ?? []);
}

/** An access.yml problem with a `grant:`, at a path inside it. */
export interface GrantIssue {
  path?: string[];
  message: string;
}

/** The target of a validated `grant:`, or what is wrong with it (messages name the access.yml keys). */
export function grantTarget(grant: Record<string, unknown>): GrantTarget | GrantIssue {
  const given = modules.flatMap((m) => m.grantKeys.filter((k) => grant[k] !== undefined).map((key) => ({ key, module: m })));
  if (given.length !== 1) {
    return {
      message: given.length === 0
        ? `say how access is granted: one of ${listOf(modules.flatMap((m) => m.grantKeys), 'or')}`
        : `give only one of ${given.map((g) => g.key).join(', ')}; make separate resources for separate grants`,
    };
  }
  const chosen = given[0]!.module;
  for (const other of modules.filter((m) => m !== chosen)) {
    const stray = Object.keys(other.grantFields).find((k) => grant[k] !== undefined);
    if (stray) return { path: [stray], message: `${stray} applies only to ${listOf(other.grantKeys, 'and')}` };
  }
  const problem = chosen.grantProblem?.(grant);
  if (problem) return problem;
  return chosen.toTarget(grant) as GrantTarget;
}

function listOf(items: readonly string[], conjunction: 'or' | 'and'): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}

function moduleOf(target: { kind: string }): AnyModule {
  const module = modules.find((m) => m.owns(target));
  if (!module) throw new ProviderError(`no provider module knows grant target kind "${target.kind}"`, false);
  return module;
}

/** The line the policy document prints for a resource's grant. */
export const describeGrant = (target: GrantTarget): string => moduleOf(target).describe(target);

/** How people are matched in each system, for the policy document. */
export const identities = (targets: readonly GrantTarget[]): ReadonlyArray<{ system: string; matchedBy: string }> =>
  modules.filter((m) => !m.identity.onlyWhenUsed || targets.some((t) => m.owns(t))).map((m) => m.identity);

type PersonEntry = Partial<z.output<z.ZodObject<typeof personFields>>> | undefined;

/**
 * The name the target's provider knows a person by when it is not their email (from access.yml
 * `people:` or derived from the email); kept with the grant so the provider acts on the same
 * principal until it ends.
 */
export const principalOverride = (target: GrantTarget, email: string, entry: PersonEntry): string | undefined => moduleOf(target).principalOf(email, entry);

/** Every name other than their emails that a person has at the providers of these targets (access.yml's). */
export function principalOverrides(targets: readonly GrantTarget[], entry: PersonEntry, emails: ReadonlyArray<string | undefined>): string[] {
  const used = modules.filter((m) => targets.some((t) => m.owns(t)));
  return [...new Set(used.flatMap((m) => (emails.length > 0 ? emails : [undefined]).flatMap((email) => m.principalOf(email, entry) ?? [])))];
}

/** A configuration mistake, not an outage: retrying does not help. */
export class NoProviderError extends ProviderError {
  constructor(readonly kind: GrantTarget['kind']) {
    const hint = modules.find((m) => m.owns({ kind }))?.setupHint;
    super(`no access provider is configured for grant target "${kind}": ${hint ?? 'check the configuration'}`, false);
    this.name = 'NoProviderError';
  }
}

/** The configured providers; each target kind is served by the first provider that supports it. */
export class ProviderRegistry {
  private readonly providers: AccessProvider[];

  constructor(providers: Iterable<AccessProvider> = []) {
    this.providers = [...providers];
  }

  register(provider: AccessProvider): this {
    this.providers.push(provider);
    return this;
  }

  /** @throws NoProviderError (transient=false) when nothing configured supports the target. */
  forTarget(target: GrantTarget): AccessProvider {
    const provider = this.providers.find((p) => p.supports(target));
    if (!provider) throw new NoProviderError(target.kind);
    return provider;
  }

  has(target: GrantTarget): boolean {
    return this.providers.some((p) => p.supports(target));
  }

  all(): readonly AccessProvider[] {
    return this.providers;
  }
}
