import type { Db } from '../../db/client.ts';
import { findPerson } from './person-aliases.ts';

/**
 * Every name evidence may record a person under, from any one of them: their breakglass id and
 * every alias (a leaver's Slack id finds the events recorded under their email). Someone breakglass
 * has not met is looked for by the name given.
 */
export async function namesOfPerson(db: Db, alias: string): Promise<string[]> {
  const person = await findPerson(db, alias);
  return person ? [person.id, ...person.aliases] : [alias];
}
