import type { AuditEvent, AuditEventAgent, AuditEventEntity, Bundle } from '@medplum/fhirtypes';
import { DEVICE_ID_SYSTEM } from '../writeback/ai-transparency.js';
import type { AuditAction, AuditRow } from './audit-trail.js';

/** Our code system for AuditEvent.type: one code per audited act. */
export const AUDIT_ACTION_SYSTEM = 'http://fhir-assess.dev/CodeSystem/audit-action';
/** `entity.detail.type` of the hashed record itself, and of its hash. */
export const RECORD_DETAIL = 'fhir-assess-record';
export const HASH_DETAIL = 'fhir-assess-hash';

const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';

/** AuditEvent.action (C create, R read, U update, D delete, E execute) per act. */
const FHIR_ACTION: Record<AuditAction, AuditEvent['action']> = {
  inference: 'E',
  'inference-blocked': 'E',
  review: 'U',
  promotion: 'U',
  recall: 'U',
  'recall-completed': 'U',
  'retention-purge': 'D',
};

/**
 * One audit record as a FHIR R4 AuditEvent: type = the act, agent = the model Device (inference) or
 * the person (human acts), entities = the patient, what was written and the inputs used; the exact
 * hashed record and its chain hashes travel in the first entity's `detail`, so a reader can verify it.
 */
export function toAuditEvent(row: AuditRow): AuditEvent {
  const e = row.entry;
  const entity: AuditEventEntity[] = [
    {
      what: { identifier: { system: 'urn:fhir-assess:audit', value: String(row.seq) } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      detail: [
        { type: RECORD_DETAIL, valueString: row.body },
        { type: HASH_DETAIL, valueString: `${row.prevHash} ${row.hash}` },
      ],
    },
  ];
  if (e.patient)
    entity.push({ what: { reference: e.patient }, role: { system: OBJECT_ROLE, code: '1', display: 'Patient' } });
  for (const ref of e.written ?? [])
    entity.push({ what: { reference: ref }, role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' } });
  for (const ref of e.inputsUsed ?? [])
    entity.push({
      what: { reference: ref },
      role: { system: OBJECT_ROLE, code: '3', display: 'Report' },
      description: 'input',
    });
  return {
    resourceType: 'AuditEvent',
    id: String(row.seq),
    type: { system: AUDIT_ACTION_SYSTEM, code: e.action },
    action: FHIR_ACTION[e.action],
    recorded: e.recorded,
    outcome: '0',
    agent: agents(row),
    source: { observer: { display: 'fhir-assess' }, ...(e.source && { site: e.source }) },
    entity,
  };
}

function agents(row: AuditRow): AuditEventAgent[] {
  const e = row.entry;
  const list: AuditEventAgent[] = [];
  if (e.actor) {
    const isRef = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(e.actor);
    list.push({ who: isRef ? { reference: e.actor } : { identifier: { value: e.actor } }, requestor: true });
  }
  if (e.model) list.push({ who: { identifier: { system: DEVICE_ID_SYSTEM, value: e.model } }, requestor: !e.actor });
  if (!list.length) list.push({ who: { display: 'fhir-assess' }, requestor: true });
  return list;
}

/** A searchset Bundle of AuditEvents, with a `next` link when more may follow. */
export function auditBundle(rows: AuditRow[], selfUrl: string, nextUrl?: string): Bundle<AuditEvent> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: selfUrl }, ...(nextUrl ? [{ relation: 'next', url: nextUrl }] : [])],
    entry: rows.map((r) => ({
      fullUrl: `AuditEvent/${r.seq}`,
      resource: toAuditEvent(r),
      search: { mode: 'match' as const },
    })),
  };
}
