import type { AccessConfig } from '../config/access-schema.ts';
import type { LoadedAccessConfig } from '../config/access.ts';

/**
 * The access.yml version in force, swappable while the bot runs: use cases keep reading
 * `deps.access.config` and `deps.access.hash` and see the version in force at that moment.
 */
export class PolicyInForce implements LoadedAccessConfig {
  private version: LoadedAccessConfig;

  constructor(initial: LoadedAccessConfig) {
    this.version = initial;
  }

  get config(): AccessConfig {
    return this.version.config;
  }

  get hash(): string {
    return this.version.hash;
  }

  get path(): string {
    return this.version.path;
  }

  get text(): string {
    return this.version.text;
  }

  /** The version in force now, fixed: a decision reads its rules and records its hash from one version. */
  pin(): LoadedAccessConfig {
    return this.version;
  }

  swap(next: LoadedAccessConfig): void {
    this.version = next;
  }
}

/** The same deps, reading one policy version throughout, however a reload lands meanwhile. */
export function underOnePolicy<Deps extends { access: LoadedAccessConfig }>(deps: Deps): Deps {
  return deps.access instanceof PolicyInForce ? { ...deps, access: deps.access.pin() } : deps;
}
