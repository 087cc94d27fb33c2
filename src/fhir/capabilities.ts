import type { CapabilityStatement, CapabilityStatementRest } from '@medplum/fhirtypes';
import type { FhirClient } from './fhir-client.js';

/** What one EHR says it supports, reduced to what the service decides with. */
export interface EhrCapabilities {
  /** `CapabilityStatement.fhirVersion`, e.g. `4.0.1`; undefined when not stated. */
  fhirVersion?: string;
  /** System interactions. */
  batch: boolean;
  transaction: boolean;
  /** `Patient/$everything`. */
  everything: boolean;
  /** Bulk Data `$export` at system, Patient and Group level. */
  export: { system: boolean; patient: boolean; group: boolean };
  /** Per resource type: type-level interactions and search parameter names. */
  types: Map<string, { interactions: Set<string>; searchParams: Set<string> }>;
  /** False when the EHR had no usable CapabilityStatement: nothing is known, so nothing is assumed. */
  known: boolean;
}

/** Capabilities of an EHR we could not ask: strategies then fall back at run time. */
export const UNKNOWN_CAPABILITIES: EhrCapabilities = {
  batch: false,
  transaction: false,
  everything: false,
  export: { system: false, patient: false, group: false },
  types: new Map(),
  known: false,
};

/** Reads `GET metadata`; an EHR without a CapabilityStatement gives UNKNOWN_CAPABILITIES. */
export async function discoverCapabilities(client: FhirClient): Promise<EhrCapabilities> {
  const cs = await client.get<CapabilityStatement | undefined>('metadata');
  return cs?.resourceType === 'CapabilityStatement' ? summariseCapabilities(cs) : UNKNOWN_CAPABILITIES;
}

/** Summarises the `server` rest entry of a CapabilityStatement (operations matched by name or canonical). */
export function summariseCapabilities(cs: CapabilityStatement): EhrCapabilities {
  const rest: CapabilityStatementRest | undefined = cs.rest?.find((r) => r.mode === 'server') ?? cs.rest?.[0];
  const system = new Set((rest?.interaction ?? []).map((i) => i.code));
  const types = new Map<string, { interactions: Set<string>; searchParams: Set<string> }>();
  const opsOf = (type?: string): Set<string> => {
    const ops = type ? rest?.resource?.find((r) => r.type === type)?.operation : rest?.operation;
    return new Set((ops ?? []).map((o) => operationName(o.name, o.definition)));
  };
  for (const r of rest?.resource ?? []) {
    if (!r.type) continue;
    types.set(r.type, {
      interactions: new Set((r.interaction ?? []).map((i) => i.code as string)),
      searchParams: new Set((r.searchParam ?? []).map((p) => p.name as string)),
    });
  }
  const patientOps = opsOf('Patient');
  return {
    fhirVersion: cs.fhirVersion,
    batch: system.has('batch'),
    transaction: system.has('transaction'),
    everything: patientOps.has('everything'),
    export: { system: opsOf().has('export'), patient: patientOps.has('export'), group: opsOf('Group').has('export') },
    types,
    known: true,
  };
}

/** Operation name without `$`, taken from the canonical when the name is a local label. */
function operationName(name: string | undefined, definition: string | undefined): string {
  const fromDef = definition?.match(/OperationDefinition\/(?:[A-Za-z]+-)?([a-z-]+)$/i)?.[1];
  const n = (name ?? '').replace(/^\$/, '').toLowerCase();
  if (n === 'everything' || n === 'export') return n;
  return (fromDef ?? n).toLowerCase();
}

/** Whether a type supports a search parameter; true when the EHR did not say (optimistic, checked at run time). */
export function supportsSearchParam(caps: EhrCapabilities, type: string, param: string): boolean {
  if (!caps.known) return param === 'patient';
  return caps.types.get(type)?.searchParams.has(param) ?? false;
}
