import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { SandboxApp } from '../http-server.js';
import type { IndexedRepository } from '../indexed-repository.js';
import { fhirPath } from './request-kind.js';

/**
 * Medplum validates writes against the profiles in `meta.profile` and logs "Unknown profile
 * referenced" for a profile URL it has no StructureDefinition for (the write still succeeds), until
 * the StructureDefinition is POSTed to it. Logged once per URL per request, for single writes and
 * for every entry of a batch/transaction.
 */
export function warnUnknownProfiles(app: SandboxApp, repo: IndexedRepository, logger: Logger): void {
  app.addHook('preHandler', async (req) => {
    if ((req.method !== 'POST' && req.method !== 'PUT') || fhirPath(req.url) === undefined) return;
    const unknown = new Set<string>();
    for (const resource of writtenResources(req.body)) {
      for (const url of resource.meta?.profile ?? []) if (!isKnown(repo, url)) unknown.add(url);
    }
    for (const profile of unknown) logger.warn({ profile }, 'Unknown profile referenced');
  });
}

function writtenResources(body: unknown): Resource[] {
  const resource = body as Resource | undefined;
  if (!resource?.resourceType) return [];
  if (resource.resourceType !== 'Bundle') return [resource];
  return ((resource as Bundle).entry ?? []).map((e) => e.resource).filter((r): r is Resource => !!r);
}

function isKnown(repo: IndexedRepository, url: string): boolean {
  const canonical = url.split('|')[0];
  for (const sd of repo.resourcesOf('StructureDefinition')) {
    if ((sd as StructureDefinition).url === canonical) return true;
  }
  return false;
}
