import { readFileSync } from 'node:fs';
import type { Bundle } from '@medplum/fhirtypes';

/**
 * One patient built for a known answer: the Goff 2013 example's inputs measured in 2010, a cholesterol of
 * 300 in 2012 (after the as-of date: must not be used), an MI in 2015 (the outcome) and a visit in 2020.
 */
export function knownPatient(): Bundle {
  const goff = JSON.parse(readFileSync('test/fixtures/goff-2013-white-male.bundle.json', 'utf8')) as Bundle;
  const entries = (goff.entry ?? []).map((e) => {
    const r = structuredClone(e.resource) as unknown as Record<string, unknown>;
    if (r.resourceType === 'Patient') r.birthDate = '1955-06-15';
    if (typeof r.effectiveDateTime === 'string') r.effectiveDateTime = '2010-06-01';
    if (typeof r.onsetDateTime === 'string') r.onsetDateTime = '2009-06-01';
    if (typeof r.authoredOn === 'string') r.authoredOn = '2010-06-01';
    return { ...e, resource: r };
  });
  const subject = { reference: entries[0].fullUrl };
  const add = (resource: Record<string, unknown>) =>
    entries.push({
      fullUrl: `urn:uuid:${crypto.randomUUID()}`,
      resource,
      request: { method: 'POST', url: String(resource.resourceType) },
    } as never);
  add({
    resourceType: 'Observation',
    status: 'final',
    subject,
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
    effectiveDateTime: '2012-06-01',
    valueQuantity: { value: 300, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  });
  add({
    resourceType: 'Condition',
    subject,
    code: { coding: [{ system: 'http://snomed.info/sct', code: '22298006' }] },
    onsetDateTime: '2015-02-01',
  });
  add({
    resourceType: 'Encounter',
    status: 'finished',
    class: { code: 'AMB' },
    subject,
    period: { start: '2020-06-01', end: '2020-06-01' },
  });
  return { ...goff, entry: entries as unknown as Bundle['entry'] };
}
