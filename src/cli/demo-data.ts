import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';

/** As-of date for the demo: the shipped Synthea records end on 2021-03-31. */
export const DEMO_AS_OF = '2021-04-01';
const WHEN = '2021-03-31T09:00:00Z';

const LOINC = 'http://loinc.org';
const vital = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }],
};
const lab = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };

function quantityObservation(
  patientId: string,
  code: string,
  display: string,
  value: number,
  unit: string,
  ucum: string,
): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [lab],
    code: { coding: [{ system: LOINC, code, display }], text: display },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: WHEN,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: ucum },
  };
}

/**
 * "New clinical data arrives": a lipid panel and a blood pressure for one patient, as one
 * transaction. Values vary by patient so the demo shows different risk categories.
 */
export function newClinicalData(patientId: string, variant: number): Bundle {
  const tc = [213, 185, 240, 260, 170, 225][variant % 6];
  const hdl = [50, 62, 38, 45, 70, 41][variant % 6];
  const sbp = [128, 118, 146, 158, 122, 137][variant % 6];
  const bp: Observation = {
    resourceType: 'Observation',
    status: 'final',
    category: [vital],
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }], text: 'Blood pressure' },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: WHEN,
    component: [
      {
        code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] },
        valueQuantity: { value: sbp, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      },
      {
        code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] },
        valueQuantity: { value: 80, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      },
    ],
  };
  const resources = [
    quantityObservation(patientId, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', tc, 'mg/dL', 'mg/dL'),
    quantityObservation(patientId, '2085-9', 'HDL Cholesterol', hdl, 'mg/dL', 'mg/dL'),
    bp,
  ];
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({ resource, request: { method: 'POST', url: 'Observation' } })),
  };
}

/** Age in whole years at the as-of date. */
export function ageAt(patient: Patient, asOf: string): number | undefined {
  if (!patient.birthDate) return undefined;
  const b = new Date(patient.birthDate);
  const a = new Date(asOf);
  let age = a.getUTCFullYear() - b.getUTCFullYear();
  if (a.getUTCMonth() < b.getUTCMonth() || (a.getUTCMonth() === b.getUTCMonth() && a.getUTCDate() < b.getUTCDate()))
    age--;
  return age;
}
