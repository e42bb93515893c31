import type { z } from 'zod';
import type { Logger } from '../logger.ts';
import type { AccessProvider, DeactivationFeed, IdentityDirectory, PushVerifier } from '../ports.ts';

/** The environment cannot serve the access.yml it was given: the start stops with the fix. */
export class ProviderSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderSetupError';
  }
}

/** A configured provider, and what else the same system offers the bot. */
export interface ProviderSetup {
  provider: AccessProvider;
  /** Leavers, when the provider is also the identity directory. */
  deactivations?: DeactivationFeed;
  /** People's status and managers, when the provider is also the identity directory. */
  identities?: IdentityDirectory;
  /** Okta Verify push to approvers, when the provider can send one (access.yml `approval: { step_up: okta_verify }`). */
  pushVerifier?: PushVerifier;
  close?(): void;
}

export interface SetupContext<Target, Env> {
  env: Env;
  /** Every environment variable given, for those access.yml names (an admin URL). Secrets: never log. */
  variables: Readonly<Record<string, string>>;
  /** access.yml's resources this provider grants. */
  resources: Array<{ name: string; target: Target }>;
  logger: Logger;
  /** How in-call retries wait (the bot's Clock); real time when absent. */
  retry: { sleep?: (ms: number) => Promise<void> };
}

/**
 * Everything breakglass knows of one provider, in its own folder: adding a provider is a new
 * module and one line in registry.ts. Nothing outside the module asks which provider a target is.
 */
export interface ProviderModule<
  Target extends { kind: string } = { kind: string },
  GrantFields extends z.ZodRawShape = z.ZodRawShape,
  PersonFields extends z.ZodRawShape = z.ZodRawShape,
  EnvFields extends z.ZodRawShape = z.ZodRawShape,
> {
  /** access.yml `grant:` keys that each choose this provider; a resource gives exactly one of all modules' keys. */
  readonly grantKeys: readonly string[];
  /** Its fields in access.yml `grant:`: the grantKeys and their options (merged into the access.yml schema). */
  readonly grantFields: GrantFields;
  /** The target for a `grant:` that names one of this module's grantKeys, its fields already validated. */
  toTarget(grant: z.output<z.ZodObject<GrantFields>>): Target;
  /** Fields of this module's `grant:` that only make sense together; each field's own checks come first. */
  grantProblem?(grant: z.output<z.ZodObject<GrantFields>>): { path?: string[]; message: string } | undefined;
  /** Whether a target is one of this provider's (targets are stored as JSON, so by kind). */
  owns(target: { kind: string }): target is Target;

  /** Its fields in an access.yml `people:` entry, naming the person here when their email does not. */
  readonly personFields: PersonFields;
  /**
   * The name this provider knows the person by when it is not their email: the one `people:` gives,
   * or one derived from the email. Undefined: the email itself.
   */
  principalOf(email: string | undefined, entry: Partial<z.output<z.ZodObject<PersonFields>>> | undefined): string | undefined;
  /** For the policy document's identity section: the system, and what of it must equal the Slack email. */
  readonly identity: { system: string; matchedBy: string; onlyWhenUsed?: boolean };

  /** Its environment variables (merged into the bot's environment schema) and where each comes from. */
  readonly env: EnvFields;
  readonly envHints: Readonly<Record<string, string>>;
  /** Settings that only make sense together, on the raw values. */
  envProblems?(present: Record<string, string | undefined>): Array<{ name: string; message: string }>;
  /** What to set so that this provider gets configured. */
  readonly setupHint: string;
  /**
   * Builds the provider from the environment and checks it can work; undefined when it is neither
   * configured nor needed. A needed provider that cannot work throws ProviderSetupError naming the fix.
   * Write its return type (`Promise<ProviderSetup | undefined>`): registry.ts derives GrantTarget
   * from the modules, and an inferred one would make that type refer to itself.
   */
  setup(context: SetupContext<Target, z.output<z.ZodObject<EnvFields>>>): Promise<ProviderSetup | undefined>;

  /** The line the policy document prints for a resource's grant. */
  describe(target: Target): string;
}

/** Keeps a module's own types while checking it against the interface. */
export function defineProvider<T extends { kind: string }, G extends z.ZodRawShape, P extends z.ZodRawShape, E extends z.ZodRawShape>(
  module: ProviderModule<T, G, P, E>,
): ProviderModule<T, G, P, E> {
  return module;
}
