import type { Db } from '../db/client.js';
export interface PersonRef { id: string; label: string; aliases: string[] }
/** The person any of whose aliases equals `alias` (case-insensitive), or null when nobody known has it. */
export async function findPerson(db: Db, alias: string): Promise<PersonRef | null> { return null; }
