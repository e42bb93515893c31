import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { and, eq, sql } from 'drizzle-orm';
import type { AccessConfig } from '../config/access-schema.ts';
import { AccessConfigError, parseAccessConfig, type LoadedAccessConfig } from '../config/access.ts';
import { describePolicySource } from '../config/policy-source.ts';
import { alerts } from '../db/schema.ts';
import { newestPolicyVersion } from '../reports/policy/policy-history.ts';
import { NoProviderError, type ProviderRegistry } from '../providers/registry.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';
import type { PolicyInForce } from './policy-in-force.ts';
import { recordConfigLoaded } from './record-config.ts';

export type ReloadOutcome = { kind: 'unchanged' } | { kind: 'loaded'; hash: string } | { kind: 'refused'; hash: string; problems: string[] };

export interface PolicyReloadOptions {
  /** This replica's access.yml. */
  path: string;
  /** What stops a valid file from working here, e.g. a resource whose provider is not configured. */
  problemsRunning(config: AccessConfig): string[];
  /** Told of each version put in force (e.g. to check its approval channels); never awaited by the reload. */
  onLoaded?(config: AccessConfig): void;
}

type ReloadDeps = Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'logger'>;

/**
 * Changes the policy in force while the bot runs. The newest `config.loaded` wins: every replica
 * adopts it at its next poll. A replica records its own file only when the file changed since
 * it last read it and differs from the version in force, so a replica whose file is older than
 * the recorded version never puts its old file back. An invalid version is refused and the one
 * in force stays; the security channel hears of each distinct refused text once.
 */
export class PolicyReloader {
  /** The hash of this replica's file when it last read it. */
  private lastFileHash: string;
  /** Recorded versions this replica cannot run, already reported: not retried at every poll. */
  private readonly refusedRecorded = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: ReloadDeps,
    private readonly policy: PolicyInForce,
    private readonly options: PolicyReloadOptions,
  ) {
    this.lastFileHash = policy.hash;
  }

  /** SIGHUP, or the file changed: load this replica's access.yml if it is a new version. */
  reloadFile(trigger: string): Promise<ReloadOutcome> {
    return this.serially(() => this.loadFile(trigger));
  }

  /** The poll: run under the version another replica recorded, if it is not the one in force. */
  adoptRecorded(): Promise<ReloadOutcome> {
    return this.serially(() => this.adopt());
  }

  /** Resolves once no reload is under way (before the database closes). */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async loadFile(trigger: string): Promise<ReloadOutcome> {
    const { path } = this.options;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      this.deps.logger.error({ err: error, config: path, trigger }, 'access.yml cannot be read; the policy in force stays');
      return { kind: 'unchanged' };
    }
    const hash = createHash('sha256').update(text).digest('hex');
    const changed = hash !== this.lastFileHash && hash !== this.policy.hash;
    this.lastFileHash = hash;
    if (!changed) {
      this.deps.logger.debug({ config: path, hash, trigger }, 'access.yml has not changed since it was last read');
      return { kind: 'unchanged' };
    }
    const checked = this.check(text, hash, path);
    if (checked.kind === 'refused') return this.refuse(checked, path);
    const source = await describePolicySource(path);
    const loaded = checked.loaded;
    await recordConfigLoaded(this.deps.db, this.deps.ledger, { hash, path, resources: Object.keys(loaded.config.resources), text, source, now: this.deps.clock.now() });
    this.policy.swap(loaded);
    this.options.onLoaded?.(loaded.config);
    this.deps.logger.info({ config: path, hash, trigger }, 'access policy reloaded from the file');
    return { kind: 'loaded', hash };
  }

  private async adopt(): Promise<ReloadOutcome> {
    const newest = await newestPolicyVersion(this.deps.db);
    if (!newest || newest.hash === this.policy.hash || this.refusedRecorded.has(newest.hash)) return { kind: 'unchanged' };
    const checked =
      newest.text === undefined
        ? { kind: 'refused' as const, hash: newest.hash, problems: ['its text was recorded before breakglass kept policy texts'] }
        : this.check(newest.text, newest.hash, newest.path);
    if (checked.kind === 'refused') {
      this.refusedRecorded.add(newest.hash);
      return this.refuse(checked, newest.path);
    }
    this.policy.swap(checked.loaded);
    this.options.onLoaded?.(checked.loaded.config);
    this.deps.logger.info({ config: newest.path, hash: newest.hash, seq: newest.seq }, 'access policy changed to the version another replica recorded');
    return { kind: 'loaded', hash: newest.hash };
  }

  private check(text: string, hash: string, path: string): { kind: 'ok'; loaded: LoadedAccessConfig } | Extract<ReloadOutcome, { kind: 'refused' }> {
    let config: AccessConfig;
    try {
      config = parseAccessConfig(text, path);
    } catch (error) {
      if (!(error instanceof AccessConfigError)) throw error;
      return { kind: 'refused', hash, problems: error.problems.map((p) => `${path}:${p.line}:${p.column} ${p.path || '(top level)'}: ${p.message}`) };
    }
    const problems = this.options.problemsRunning(config);
    if (problems.length > 0) return { kind: 'refused', hash, problems };
    return { kind: 'ok', loaded: { config, hash, path, text } };
  }

  private async refuse(refused: Extract<ReloadOutcome, { kind: 'refused' }>, path: string): Promise<ReloadOutcome> {
    const inForce = this.policy.hash;
    this.deps.logger.error({ config: path, hash: refused.hash, inForce, problems: refused.problems }, 'new access.yml version refused; the policy in force stays');
    await this.deps.db.transaction(async (tx) => {
      // Under the append lock, so replicas refusing the same text together alert once.
      await this.deps.ledger.lockHead(tx);
      const [told] = await tx
        .select({ id: alerts.id })
        .from(alerts)
        .where(and(eq(alerts.kind, 'policy_refused'), sql`${alerts.notification}->>'hash' = ${refused.hash}`))
        .limit(1);
      if (told) return;
      await raiseAlert(tx, this.deps, { kind: 'policy_refused', subject: path, notification: { kind: 'policy_refused', path, hash: refused.hash, problems: refused.problems, inForce } });
    });
    return refused;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** The resources of a policy that no configured provider can grant, each with the fix. */
export function resourcesWithoutProvider(config: AccessConfig, configured: ProviderRegistry): string[] {
  return Object.entries(config.resources)
    .filter(([, resource]) => !configured.has(resource.grant))
    .map(([name, resource]) => `resources.${name}: ${new NoProviderError(resource.grant.kind).message} (provider settings are read at start: set them and restart to add it)`);
}
