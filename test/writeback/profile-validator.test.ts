import { OperationOutcomeError, validateResource } from '@medplum/core';
import type {
  ClinicalImpression,
  Device,
  OperationOutcomeIssue,
  Provenance,
  Resource,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.js';
import { type PlannedEntry, planWriteBack } from '../../src/writeback/plan.js';
import { validateAgainstProfile } from '../../src/writeback/profile-validator.js';
import { getProfile } from '../../src/writeback/profiles/profiles.js';
import { goffLikeOutput, inputFor } from './model-output.js';

const OUTPUT = goffLikeOutput({
  tc: 'Observation/tc-1',
  hdl: 'Observation/hdl-1',
  sbp: 'Observation/bp-1',
  patient: 'Patient/p-1',
});

/** [model Device, service Device, RiskAssessment, ClinicalImpression, Provenance], as written. */
const plan = (): PlannedEntry[] =>
  planWriteBack({
    ...inputFor('p-1', 'k'.repeat(64), OUTPUT),
    mode: 'preliminary',
    now: new Date('2021-04-01T12:00Z'),
  });

/** The issues a validation returns or throws (errors are thrown as an OperationOutcomeError). */
function issuesOf(validate: () => OperationOutcomeIssue[]): { thrown: boolean; issues: OperationOutcomeIssue[] } {
  try {
    return { thrown: false, issues: validate() };
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    return { thrown: true, issues: err.outcome.issue ?? [] };
  }
}

const ours = (r: Resource) => r.meta?.profile?.find((p) => p.startsWith('http://fhir-assess.dev/'));

describe('validation against a once-parsed profile', () => {
  beforeAll(() => loadFhirDefinitions());

  it('When valid and broken outputs are validated, Then every outcome equals @medplum/core validating against the profile itself', () => {
    const ra = (e: PlannedEntry[]) => e[2].resource as RiskAssessment;
    const cases: [string, (e: PlannedEntry[]) => void][] = [
      ['as written', () => {}],
      ['percent, not fraction (fa-ra-5)', (e) => (ra(e).prediction![0].probabilityDecimal = 5.38)],
      ['no AIAST label (fa-ra-1)', (e) => (ra(e).meta!.security = [])],
      ['missing required element', (e) => delete ra(e).performer],
      ['no prediction value (ras-2)', (e) => (ra(e).prediction = [{ outcome: { text: 'x' } }])],
      ['no outcome (fa-ra-3)', (e) => delete ra(e).prediction![0].outcome],
      ['two predictions', (e) => ra(e).prediction!.push(ra(e).prediction![0])],
      ['wrong JSON type', (e) => Object.assign(ra(e).prediction![0], { probabilityDecimal: 'x' })],
      ['extra property', (e) => Object.assign(ra(e), { score: 3 })],
      ['extra property in a backbone element', (e) => Object.assign(ra(e).prediction![0], { score: 3 })],
      ['null in an array', (e) => Object.assign(ra(e), { note: [null] })],
      ['impression without model code', (e) => delete (e[3].resource as ClinicalImpression).code],
      ['impression finding empty (fa-ci-3)', (e) => (e[3].resource as ClinicalImpression).finding?.push({})],
      ['provenance without AI author (fa-prov-2)', (e) => (e[4].resource as Provenance).agent.shift()],
      ['provenance entity agent (contentReference)', (e) => addEntityAgent(e[4].resource as Provenance)],
      ['provenance entity role', (e) => ((e[4].resource as Provenance).entity![0].role = 'input' as never)],
      ['device not an AI (pattern)', (e) => ((e[0].resource as Device).type = { text: 'software' })],
      ['device without owner', (e) => delete (e[0].resource as Device).owner],
    ];
    const refused = new Set<string>();
    for (const [name, mutate] of cases) {
      const entries = plan();
      mutate(entries);
      for (const { resource } of entries) {
        const url = ours(resource);
        if (!url) continue;
        const profile = getProfile(url);
        const reference = issuesOf(() => validateResource(resource, { profile }));
        expect(
          issuesOf(() => validateAgainstProfile(resource, profile)),
          `${name}: ${resource.resourceType}`,
        ).toEqual(reference);
        if (reference.thrown) refused.add(name);
      }
    }
    // The comparison covered real errors: the profile itself refuses every broken case but these two (a
    // second prediction is allowed; the entity role is a required binding, checked by required-bindings.ts).
    const accepted = cases.map(([n]) => n).filter((n) => !refused.has(n));
    expect(accepted).toEqual(['as written', 'two predictions', 'provenance entity role']);
  });

  it('When a profiled resource is validated, Then the base type validates as before (the profile did not replace it)', () => {
    const raWithoutMethod = { ...(plan()[2].resource as RiskAssessment), meta: undefined, method: undefined };
    validateAgainstProfile(plan()[2].resource, getProfile(ours(plan()[2].resource) as string));
    // The base R4 RiskAssessment has no required method: still valid against the base definition.
    expect(issuesOf(() => validateResource(raWithoutMethod)).thrown).toBe(false);
    expect(
      issuesOf(() => validateResource(raWithoutMethod, { profile: getProfile(ours(plan()[2].resource) as string) }))
        .thrown,
    ).toBe(true);
  });
});

/** An entity agent (Provenance.entity.agent is a contentReference to Provenance.agent) without its required `who`. */
function addEntityAgent(p: Provenance): void {
  p.entity![0].agent = [{ type: { text: 'x' } } as never];
}
