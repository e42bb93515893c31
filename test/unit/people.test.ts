import { describe, expect, it } from 'vitest';
import { labelOf, newPerson, planUpdate, type KnownPerson, type PersonObservation } from '../../src/domain/people.ts';

const NOW = new Date('2026-03-02T09:00:00.000Z');
const apply = (person: KnownPerson, o: PersonObservation): KnownPerson => {
  const u = planUpdate(person, o, NOW);
  return {
    ...person,
    name: u.name?.value ?? person.name,
    nameSource: u.name?.source ?? person.nameSource,
    statuses: u.statuses ?? person.statuses,
    status: u.status ?? person.status,
    deactivatedAt: u.deactivatedAt === undefined ? person.deactivatedAt : u.deactivatedAt,
    aliases: [...person.aliases.filter((a) => !u.replace.includes(a)), ...u.add],
  };
};

const slack: PersonObservation = { system: 'slack', aliases: [{ kind: 'slack', value: 'U0ALICE' }, { kind: 'slack_email', value: 'alice@example.com' }], name: 'ally', status: 'active' };
const okta: PersonObservation = { system: 'okta', aliases: [{ kind: 'okta_login', value: 'alice@example.com' }], name: 'Alice Example', status: 'SUSPENDED' };

describe('what a sighting changes about a person', () => {
  it("a directory of record's name is not replaced by a chat display name, and two directories that disagree on status settle", () => {
    let person = apply(newPerson('P-1', slack, NOW), okta);
    expect(person).toMatchObject({ name: 'Alice Example', status: 'deactivated', deactivatedAt: NOW });
    // Seen again by each: nothing to record, however often.
    expect(planUpdate(person, slack, NOW).changes).toEqual([]);
    expect(planUpdate(person, okta, NOW).changes).toEqual([]);
    person = apply(person, { ...okta, status: 'ACTIVE' });
    expect(person).toMatchObject({ status: 'active', deactivatedAt: null });
  });

  it("a provider's principal equal to a name already held is not a second alias; a new one is", () => {
    const person = newPerson('P-1', slack, NOW);
    expect(planUpdate(person, { system: 'provider', aliases: [{ kind: 'principal', value: 'ALICE@example.com' }] }, NOW).changes).toEqual([]);
    expect(planUpdate(person, { system: 'provider', aliases: [{ kind: 'principal', value: 'alice' }] }, NOW).changes).toEqual([{ field: 'alias:principal', from: null, to: 'alice' }]);
  });

  it('labels a person by name and email, else whatever is known', () => {
    expect(labelOf(newPerson('P-1', slack, NOW))).toBe('ally <alice@example.com>');
    expect(labelOf(newPerson('P-2', { system: 'provider', aliases: [{ kind: 'principal', value: 'bob' }] }, NOW))).toBe('bob');
  });
});
