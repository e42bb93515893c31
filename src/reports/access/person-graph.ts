import { isOpaque, parseEvent } from '../../domain/events.ts';
import { SLACK_USER_ID } from '../../domain/people.ts';
import type { StoredEvent } from '../../ledger/event.ts';

/**
 * Which names the ledger itself says belong to one person: names that occur together in one event
 * (a listing's principal, email and Slack id; an offboarding's email, login and Slack id; a review
 * line's subject, principal and email). Without a people directory this is how `--user alice@…`
 * also finds the grants recorded under her Slack id. Names compare without case. Pure.
 */
export class PersonGraph {
  private readonly parent = new Map<string, string>();
  private readonly spelled = new Map<string, string>();

  static of(events: Iterable<StoredEvent>): PersonGraph {
    const graph = new PersonGraph();
    for (const event of events) graph.add(event);
    return graph;
  }

  add(event: StoredEvent): void {
    const parsed = parseEvent(event);
    if (isOpaque(parsed)) return;
    switch (parsed.kind) {
      case 'access.observed':
      case 'access.gone':
        this.link(event.subject, parsed.details.principal, parsed.details.email, parsed.details.person);
        return;
      case 'offboarding.detected':
        this.link(event.subject, parsed.details.slack_user, parsed.details.login);
        return;
      case 'review.decided':
        this.link(event.subject, parsed.details.principal, parsed.details.email ?? null);
        return;
      default:
        if (event.subject) this.name(event.subject);
    }
  }

  /** Records that these names are one person's. */
  link(...names: Array<string | null | undefined>): void {
    const present = names.filter((n): n is string => typeof n === 'string' && n !== '');
    for (const name of present) this.name(name);
    for (const name of present.slice(1)) this.union(present[0]!, name);
  }

  /** Every name known to be the same person as `name` (itself included), as first written. */
  aliasesOf(name: string): string[] {
    const root = this.find(name.toLowerCase());
    return [...this.parent.keys()].filter((key) => this.find(key) === root).map((key) => this.spelled.get(key) ?? key).sort();
  }

  /** One key per person: the same for every alias of theirs. */
  keyOf(name: string): string {
    return this.find(name.toLowerCase());
  }

  private name(name: string): void {
    const key = name.toLowerCase();
    if (!this.parent.has(key)) {
      this.parent.set(key, key);
      this.spelled.set(key, name);
    }
  }

  private find(key: string): string {
    let root = this.parent.get(key) ?? key;
    while (root !== (this.parent.get(root) ?? root)) root = this.parent.get(root)!;
    if (this.parent.has(key)) this.parent.set(key, root);
    return root;
  }

  private union(a: string, b: string): void {
    const ra = this.find(a.toLowerCase());
    const rb = this.find(b.toLowerCase());
    // The smaller key wins, so a person's key does not depend on the order events arrive in.
    if (ra !== rb) {
      if (ra < rb) this.parent.set(rb, ra);
      else this.parent.set(ra, rb);
    }
  }
}

/** The `person` of an answer row: a stable id and a readable label, from the person's aliases. */
export function personView(aliases: string[], known?: { id: string; label: string } | null): { id: string; label: string; aliases: string[] } {
  if (known) return { id: known.id, label: known.label, aliases };
  const slack = aliases.find((a) => SLACK_USER_ID.test(a));
  const email = aliases.find((a) => a.includes('@'));
  const id = slack ?? email?.toLowerCase() ?? aliases[0]?.toLowerCase() ?? '(unknown)';
  return { id, label: email ?? aliases.find((a) => a !== slack) ?? id, aliases };
}
