import { randomUUID } from 'node:crypto';
import type { Bundle, ClinicalImpression, Device, Reference, Resource, RiskAssessment } from '@medplum/fhirtypes';
import type { ModelOutput } from '../models/model.js';
import { ASSESSMENT_ID_SYSTEM } from './ai-transparency.js';
import { identifierToken } from './map-devices.js';
import {
  clinicalImpression,
  derivedObservation,
  type MappingContext,
  modelDevice,
  provenance,
  riskAssessment,
  serviceDevice,
  type WriteMode,
} from './map-resources.js';

/** Everything a write-back needs to know about one assessment (ids and the model's output). */
export interface AssessmentToWrite {
  patientId: string;
  /** {@link assessmentKey}: patient + model id@version + record hash. */
  key: string;
  output: ModelOutput;
  modelTitle: string;
  mode: WriteMode;
  asOf: Date;
  serviceVersion: string;
  now: Date;
}

/** One resource to create, in order, with its conditional-create query and its in-bundle id. */
export interface PlannedEntry {
  fullUrl: string;
  resource: Resource;
  /** `If-None-Exist` query: our identifier (or, for Provenance, our `_tag`). */
  ifNoneExist: string;
}

/**
 * Where the Devices come from: existing `Device/<id>` references (live write-backs ensure them first,
 * under their own lock), or `undefined` to put them in the plan as conditional creates (shadow mode:
 * the complete would-be transaction).
 */
export interface PlanRefs {
  devices?: { model: Reference<Device>; service: Reference<Device> };
  previous?: Reference<ClinicalImpression>;
}

const urn = () => `urn:uuid:${randomUUID()}`;
const byIdentifier = (r: Resource) => `identifier=${encodeURIComponent(identifierToken(r as never))}`;

/**
 * The ordered entries of one write-back: [Devices,] RiskAssessments, derived Observations (eGFR), the
 * ClinicalImpression, the Provenance of them all.
 */
export function planWriteBack(a: AssessmentToWrite, refs: PlanRefs = {}): PlannedEntry[] {
  const entries: PlannedEntry[] = [];
  let devices = refs.devices;
  if (!devices) {
    const model = { fullUrl: urn(), resource: modelDevice(a.output, a.modelTitle) };
    const service = { fullUrl: urn(), resource: serviceDevice(a.serviceVersion) };
    for (const d of [model, service]) entries.push({ ...d, ifNoneExist: byIdentifier(d.resource) });
    devices = { model: { reference: model.fullUrl }, service: { reference: service.fullUrl } };
  }
  const ctx: MappingContext = {
    ...a,
    modelDevice: devices.model,
    serviceDevice: devices.service,
    previous: refs.previous,
  };
  const riskRefs: Reference<RiskAssessment>[] = [];
  for (const p of a.output.predictions) {
    const resource = riskAssessment(p, a.output, ctx);
    const fullUrl = urn();
    riskRefs.push({ reference: fullUrl });
    entries.push({ fullUrl, resource, ifNoneExist: byIdentifier(resource) });
  }
  const derivedRefs: Reference[] = [];
  const keys = new Set<string>();
  for (const d of a.output.predictions.flatMap((p) => p.derived ?? [])) {
    if (keys.has(d.key)) continue;
    keys.add(d.key);
    const resource = derivedObservation(d, a.output, ctx);
    const fullUrl = urn();
    derivedRefs.push({ reference: fullUrl });
    entries.push({ fullUrl, resource, ifNoneExist: byIdentifier(resource) });
  }
  const ci = { fullUrl: urn(), resource: clinicalImpression(a.output, riskRefs, ctx) };
  entries.push({ ...ci, ifNoneExist: byIdentifier(ci.resource) });
  const prov = provenance([...riskRefs, ...derivedRefs, { reference: ci.fullUrl }], a.output, ctx);
  const tag = `_tag=${encodeURIComponent(`${ASSESSMENT_ID_SYSTEM}|${a.key}`)}`;
  entries.push({ fullUrl: urn(), resource: prov, ifNoneExist: tag });
  return entries;
}

/** The plan as one FHIR transaction of conditional creates. */
export function toTransaction(entries: PlannedEntry[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map((e) => ({
      fullUrl: e.fullUrl,
      resource: e.resource,
      request: { method: 'POST', url: e.resource.resourceType, ifNoneExist: e.ifNoneExist },
    })),
  };
}
