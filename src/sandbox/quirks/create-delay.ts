import type { Resource } from '@medplum/fhirtypes';
import type { IndexedRepository } from '../indexed-repository.js';

/**
 * Waits `ms` inside every create, between a conditional create's "no match" check and the insert:
 * the window in which an EHR whose conditional create is not atomic lets two concurrent
 * conditional creates both insert.
 */
export function delayCreates(repo: IndexedRepository, ms: number): void {
  const create = repo.createResource.bind(repo);
  const delayed = async <T extends Resource>(resource: T) => {
    await new Promise((r) => setTimeout(r, ms));
    return create(resource);
  };
  Object.assign(repo, { createResource: delayed });
}
