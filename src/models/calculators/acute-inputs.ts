import {
  ACUTE_CONFUSION,
  activeConditions,
  codingsOf,
  GCS_TOTAL,
  INHALED_OXYGEN_CONCENTRATION,
  latestObservationValue,
  OXYGEN_FLOW,
  observationsAsOf,
  observationTime,
  parseFhirDate,
  refOf,
  withMaxAge,
} from '../fhir-inputs/index.js';
import type { InputCollector } from './collect.js';

/**
 * Inputs shared by NEWS2 and qSOFA that are not plain numbers: level of consciousness and supplemental oxygen.
 * Both read only the acute window (hours before as-of).
 */

/** LOINC for an AVPU assessment (risk-models.md §5 marks 67775-7 as unverified). */
export const AVPU_LOINC = '67775-7';

/** Room air FiO2, %: anything above it means supplemental oxygen. */
const ROOM_AIR_FIO2_PERCENT = 21;

export type Consciousness = { alert: boolean; text: string };

/** AVPU/ACVPU answer → consciousness, from a coding's code or display, or the text ("A", "Alert", "Voice"…). */
function avpuOf(words: string[]): Consciousness | undefined {
  for (const w of words.map((x) => x.trim().toLowerCase())) {
    if (w === 'a' || w.startsWith('alert')) return { alert: true, text: 'Alert' };
    if (w === 'c' || w.includes('confus')) return { alert: false, text: 'New confusion' };
    if (w === 'v' || w.includes('voice') || w.includes('verbal')) return { alert: false, text: 'Responds to voice' };
    if (w === 'p' || w.includes('pain')) return { alert: false, text: 'Responds to pain' };
    if (w === 'u' || w.includes('unresponsive')) return { alert: false, text: 'Unresponsive' };
  }
  return undefined;
}

/** Newest AVPU observation in the window, decoded. */
function latestAvpu(c: InputCollector, start: Date) {
  for (const obs of observationsAsOf(c.bundle, [AVPU_LOINC], c.asOf)) {
    const when = observationTime(obs)!;
    if (when.getTime() < start.getTime()) return undefined;
    const concept = obs.valueCodeableConcept;
    const words = [
      ...codingsOf(concept).flatMap((x) => [x.code ?? '', x.display ?? '']),
      concept?.text ?? '',
      obs.valueString ?? '',
    ];
    const level = avpuOf(words.filter(Boolean));
    if (level) return { ...level, source: refOf(obs), when };
  }
  return undefined;
}

/**
 * Level of consciousness within `hours`: the newer of a GCS total (15 = alert) and an AVPU assessment; a new
 * confusion/delirium Condition with onset inside the window makes the patient not alert. Undefined (and
 * recorded as missing) when neither is recorded.
 */
export function consciousness(c: InputCollector, hours: number): Consciousness | undefined {
  const start = new Date(c.asOf.getTime() - hours * 3_600_000);
  const confusion = activeConditions(c.bundle, ACUTE_CONFUSION, c.asOf).find(
    (m) => (parseFhirDate(m.onset)?.getTime() ?? 0) >= start.getTime() - 86_400_000, // onset is a day: allow that day
  );
  if (confusion) {
    c.use({ name: 'Consciousness', value: 'New confusion', source: confusion.source, effective: confusion.onset });
    return { alert: false, text: 'New confusion' };
  }
  const gcs = latestObservationValue(c.bundle, withMaxAge(GCS_TOTAL, { hours }), c.asOf);
  const avpu = latestAvpu(c, start);
  const gcsTime = gcs.ok ? Date.parse(gcs.effective) : Number.NEGATIVE_INFINITY;
  if (avpu && avpu.when.getTime() >= gcsTime) {
    c.use({ name: 'Consciousness (AVPU)', value: avpu.text, source: avpu.source, effective: avpu.when.toISOString() });
    return { alert: avpu.alert, text: avpu.text };
  }
  if (gcs.ok) {
    c.use({ name: 'Glasgow coma score', value: gcs.value, source: gcs.source, effective: gcs.effective });
    return { alert: gcs.value >= 15, text: gcs.value >= 15 ? 'Alert (GCS 15)' : `GCS ${gcs.value}` };
  }
  c.miss('Consciousness', 'missing', `no GCS (9269-2), AVPU (${AVPU_LOINC}) or new confusion in the last ${hours} h`);
  return undefined;
}

/**
 * Whether the patient is on supplemental oxygen within `hours`: an O2 flow rate above 0 L/min or an FiO2
 * above 21 %. Without either, the patient is taken to be on room air, and that assumption is reported.
 */
export function onOxygen(c: InputCollector, hours: number): boolean {
  const flow = latestObservationValue(c.bundle, withMaxAge(OXYGEN_FLOW, { hours }), c.asOf);
  const fio2 = latestObservationValue(c.bundle, withMaxAge(INHALED_OXYGEN_CONCENTRATION, { hours }), c.asOf);
  const evidence = flow.ok ? flow : fio2.ok ? fio2 : undefined;
  if (!evidence) {
    c.use({ name: 'Supplemental oxygen', value: `no (no O2 flow or FiO2 recorded in ${hours} h; room air assumed)` });
    return false;
  }
  const on = flow.ok ? flow.value > 0 : evidence.value > ROOM_AIR_FIO2_PERCENT;
  c.use({ name: 'Supplemental oxygen', value: on, source: evidence.source, effective: evidence.effective });
  return on;
}

/** LOINC codes that only an acute assessment records: RR, SpO2, pulse, GCS, AVPU. */
const ACUTE_CODES = ['9279-1', '59408-5', '2708-6', '8867-4', '9269-2', AVPU_LOINC];

/**
 * Whether the record holds any acute vital sign in the last `hours`. Without one there is no acute episode to
 * score, so NEWS2 and qSOFA do not apply (rather than listing every vital sign as missing for every outpatient).
 */
export function hasAcuteVitals(c: InputCollector, hours: number): boolean {
  const start = c.asOf.getTime() - hours * 3_600_000;
  return observationsAsOf(c.bundle, ACUTE_CODES, c.asOf).some((o) => (observationTime(o)?.getTime() ?? 0) >= start);
}
