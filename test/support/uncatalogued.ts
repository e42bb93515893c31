import type { EvidenceInput } from '../../src/ledger/event.ts';

/**
 * An event the catalogue (src/domain/events.ts) does not describe, appended as is: for tests of
 * the chain itself (hashing arbitrary content) and of readers given what they cannot place. The
 * use cases never write one; Ledger.append's type refuses it everywhere else.
 */
export function uncatalogued(input: { kind: string; actor: string; subject?: string | null | undefined; resource?: string | null | undefined; requestId?: string | number | null | undefined; details?: Record<string, unknown> }): EvidenceInput {
  return input as unknown as EvidenceInput;
}
