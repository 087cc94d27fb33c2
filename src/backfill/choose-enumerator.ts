import type { Group } from '@medplum/fhirtypes';
import { createAuth } from '../fhir/auth/create-auth.js';
import { UNKNOWN_CAPABILITIES } from '../fhir/capabilities.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import { patientIdFromReference } from '../intake/resource-facts.js';
import { BulkEnumerator } from './bulk-enumerator.js';
import { BulkExportClient } from './bulk-export-client.js';
import type { Enumerator } from './cursor.js';
import { ListEnumerator } from './list-enumerator.js';
import { SearchEnumerator } from './search-enumerator.js';

/** Who to backfill. */
export type Selection =
  | { kind: 'all' }
  | { kind: 'group'; id: string }
  | { kind: 'patients'; file: string; ids: string[] };

export interface EnumeratorChoice {
  sources: SourceRegistry;
  source: string;
  selection: Selection;
  since?: string;
  /** Resource types the models read (exported / searched with `since`). */
  types: string[];
  /** `auto` uses Bulk `$export` when the EHR's CapabilityStatement advertises it at that level. */
  strategy: 'auto' | 'bulk' | 'search' | 'list';
  /** Page size of paged searches (default 200). */
  pageSize?: number;
  onStatus?: (text: string) => void;
}

/**
 * Picks how to list the population: a `--patients` file as given; else Bulk `$export`
 * (`Patient/` or `Group/{id}/`) when advertised (or forced), else paged `Patient` search, or the
 * Group's members read from the Group resource.
 */
export async function chooseEnumerator(c: EnumeratorChoice): Promise<Enumerator> {
  if (c.selection.kind === 'patients')
    return new ListEnumerator(c.selection.ids, `from patients file ${c.selection.file}`);
  const { source, client } = c.sources.get(c.source);
  const groupId = c.selection.kind === 'group' ? c.selection.id : undefined;
  let strategy = c.strategy;
  if (strategy === 'auto') {
    const caps = await client.capabilities().catch(() => UNKNOWN_CAPABILITIES);
    strategy = (groupId ? caps.export.group : caps.export.patient) ? 'bulk' : 'search';
  }
  if (strategy === 'bulk') {
    const auth = createAuth(source.auth, { guard: client.guard, fetch, timeoutMs: source.timeoutMs });
    const bulk = new BulkExportClient({ guard: client.guard, auth, timeoutMs: source.timeoutMs });
    return new BulkEnumerator(bulk, { groupId, since: c.since, types: c.types }, c.onStatus);
  }
  if (groupId)
    return new ListEnumerator(await groupMembers(c.sources, c.source, groupId), `from Group/${groupId}'s members`);
  return new SearchEnumerator(client, { since: c.since, types: c.types, pageSize: c.pageSize });
}

/** A Group's active Patient members, read from the EHR. */
async function groupMembers(sources: SourceRegistry, source: string, groupId: string): Promise<string[]> {
  const group = await sources.client(source).read<Group>('Group', groupId);
  const ids = (group.member ?? []).filter((m) => !m.inactive).map((m) => patientIdFromReference(m.entity));
  return [...new Set(ids.filter((id): id is string => !!id))];
}
