import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Reference, Resource, RiskAssessment } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { ModelOutput } from '../models/model.js';
import { ASSESSMENT_ID_SYSTEM } from './ai-transparency.js';
import {
  clinicalImpression,
  type MappingContext,
  modelDevice,
  provenance,
  riskAssessment,
  serviceDevice,
  type WriteMode,
} from './map-resources.js';

export interface WriteBackInput {
  patientId: string;
  key: string;
  output: ModelOutput;
  modelTitle: string;
  mode: WriteMode | 'shadow';
  asOf: Date;
  serviceVersion: string;
  now?: Date;
}

export interface WriteBackResult {
  mode: WriteMode | 'shadow';
  /** The transaction we sent (or, in shadow mode, would have sent). */
  bundle: Bundle;
  /** `Type/id` of each resource as the EHR reports it (created or already present); empty in shadow mode. */
  written: string[];
  /** How many entries the EHR newly created (201) vs found already there (200). */
  created: number;
  existing: number;
}

/**
 * Builds the write-back as one transaction of conditional creates, every entry keyed by an
 * identifier (or, for Provenance which has none in R4, a `_tag`) derived from the assessment key.
 */
export function buildWriteBackBundle(input: WriteBackInput): Bundle {
  const now = input.now ?? new Date();
  const urn = () => `urn:uuid:${randomUUID()}`;
  const deviceUrl = urn();
  const serviceUrl = urn();
  const ctx: MappingContext = {
    patientId: input.patientId,
    key: input.key,
    mode: input.mode === 'final' ? 'final' : 'preliminary',
    asOf: input.asOf,
    now,
    modelDevice: { reference: deviceUrl },
    serviceDevice: { reference: serviceUrl },
  };
  const entries: BundleEntry[] = [];
  const add = (resource: Resource, fullUrl: string, ifNoneExist: string) =>
    entries.push({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType, ifNoneExist } });
  const byIdentifier = (r: { identifier?: { system?: string; value?: string }[] }) =>
    `identifier=${encodeURIComponent(`${r.identifier![0].system}|${r.identifier![0].value}`)}`;

  const model = modelDevice(input.output, input.modelTitle);
  const service = serviceDevice(input.serviceVersion);
  add(model, deviceUrl, byIdentifier(model));
  add(service, serviceUrl, byIdentifier(service));
  const riskRefs: Reference<RiskAssessment>[] = [];
  for (const p of input.output.predictions) {
    const ra = riskAssessment(p, input.output, ctx);
    const fullUrl = urn();
    riskRefs.push({ reference: fullUrl });
    add(ra, fullUrl, byIdentifier(ra));
  }
  const ci = clinicalImpression(input.output, riskRefs, ctx);
  const ciUrl = urn();
  add(ci, ciUrl, byIdentifier(ci));
  const prov = provenance([...riskRefs, { reference: ciUrl }], input.output, ctx);
  add(prov, urn(), `_tag=${encodeURIComponent(`${ASSESSMENT_ID_SYSTEM}|${input.key}`)}`);
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

/** Sends the write-back (nothing in shadow mode) and reports what the EHR created. */
export async function writeBack(client: FhirClient, input: WriteBackInput): Promise<WriteBackResult> {
  const bundle = buildWriteBackBundle(input);
  if (input.mode === 'shadow') return { mode: 'shadow', bundle, written: [], created: 0, existing: 0 };
  const response = await client.transaction(bundle);
  const written: string[] = [];
  let created = 0;
  let existing = 0;
  for (const [i, e] of (response.entry ?? []).entries()) {
    const status = e.response?.status ?? '';
    if (!/^20[01]/.test(status)) {
      throw new Error(
        `write-back entry ${i} (${bundle.entry?.[i]?.resource?.resourceType}) failed with status ${status}`,
      );
    }
    if (status.startsWith('201')) created++;
    else existing++;
    const loc = e.response?.location ?? (e.resource ? `${e.resource.resourceType}/${e.resource.id}` : undefined);
    if (loc) written.push(loc.replace(/\/_history\/.*$/, '').replace(/^.*?([A-Z][A-Za-z]+\/[^/]+)$/, '$1'));
  }
  return { mode: input.mode, bundle, written, created, existing };
}
