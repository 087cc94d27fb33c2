import type { ClinicalImpression, Device, Provenance, Resource, RiskAssessment } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILE } from '../../src/writeback/profiles/profiles.js';
import { validateOne, WriteBackValidationError } from '../../src/writeback/validate.js';
import { writeBack } from '../../src/writeback/write-back.js';
import { assessGoff, countOutputs, type Harness, seedGoffPatient, startHarness } from './harness.js';

/**
 * Write-back against the sandbox EHR over real HTTP, with a real Redis: what is written, that it is
 * valid against our profiles when read back, that every link resolves, the status per mode, the
 * `previous` chain, and that a validation failure writes nothing.
 */
describe('write-back to the sandbox EHR', () => {
  let h: Harness;
  let patientId: string;
  let firstImpression: string;
  let firstDevices: string[];

  beforeAll(async () => {
    h = await startHarness('wb');
    patientId = await seedGoffPatient(h.sandbox);
  });
  afterAll(async () => h?.close());

  const read = <T extends Resource>(ref: string) => {
    const [type, id] = ref.split('/');
    return h.client.read<T>(type as T['resourceType'], id);
  };
  const errorsOf = (r: Resource, mode: 'preliminary' | 'final') =>
    validateOne(r, mode).filter((i) => i.severity === 'error');

  it('When a preliminary assessment is written, Then Devices, RiskAssessment, ClinicalImpression and Provenance are in the EHR, valid and linked', async () => {
    const { input } = await assessGoff(h.client, patientId);
    const result = await writeBack(h.client, input, h.deps());
    expect(result).toMatchObject({ mode: 'preliminary', via: 'transaction', created: 3, existing: 0 });
    const [modelRef, serviceRef, raRef, ciRef, provRef] = result.written;
    expect(result.written.map((w) => w.split('/')[0])).toEqual([
      'Device',
      'Device',
      'RiskAssessment',
      'ClinicalImpression',
      'Provenance',
    ]);

    const ra = await read<RiskAssessment>(raRef);
    const ci = await read<ClinicalImpression>(ciRef);
    const prov = await read<Provenance>(provRef);
    const model = await read<Device>(modelRef);
    const service = await read<Device>(serviceRef);
    for (const r of [ra, ci, prov, model, service]) expect(errorsOf(r, 'preliminary'), r.resourceType).toEqual([]);
    expect(ra.meta?.profile).toEqual([PROFILE.riskAssessment]);

    expect(ra.status).toBe('preliminary');
    expect(ci.status).toBe('in-progress');
    expect(ra.prediction?.[0].probabilityDecimal).toBeCloseTo(0.0538, 4);
    expect(ra.performer?.reference).toBe(modelRef);
    expect(model.identifier?.[0]).toEqual({
      system: 'urn:fhir-assess:model',
      value: 'fhir-assess-risk-equations@0.1.0',
    });
    expect(model.type?.coding?.[0].code).toBe('Artificial-Intelligence');
    expect(ci.prognosisReference).toEqual([{ reference: raRef }]);
    expect(ci.previous).toBeUndefined(); // the patient's first impression from this model
    expect(prov.target.map((t) => t.reference)).toEqual([raRef, ciRef]);
    const agent = (code: string) => prov.agent.find((a) => a.type?.coding?.[0].code === code);
    expect(agent('author')?.who?.reference).toBe(modelRef);
    expect(agent('author')?.role?.[0].coding?.[0].code).toBe('Artificial-Intelligence');
    expect(agent('assembler')?.who?.reference).toBe(serviceRef);
    expect(prov.reason?.[0].coding?.[0].code).toBe('AIAST');
    expect(prov.activity?.coding?.[0].code).toBe('CREATE');

    // Every reference resolves by reading it back: basis, supportingInfo and Provenance entities.
    const inputs = [...(ra.basis ?? []), ...(ci.supportingInfo ?? []), ...(prov.entity ?? []).map((e) => e.what)];
    expect(ra.basis?.length).toBeGreaterThanOrEqual(4); // TC, HDL, SBP observations and the Patient
    expect(new Set(prov.entity?.map((e) => e.role))).toEqual(new Set(['source']));
    for (const ref of new Set(inputs.map((r) => r.reference!))) expect((await read(ref)).id).toBe(ref.split('/')[1]);
    firstImpression = ciRef;
    firstDevices = [modelRef, serviceRef];
  });

  it('When a later assessment of the same patient is written in final mode, Then it is final/completed and chains to the previous impression', async () => {
    const { input } = await assessGoff(h.client, patientId, 'changed-record');
    const result = await writeBack(h.client, { ...input, mode: 'final' }, h.deps());
    expect(result).toMatchObject({ mode: 'final', via: 'transaction', created: 3 });
    const ra = await read<RiskAssessment>(result.written[2]);
    const ci = await read<ClinicalImpression>(result.written[3]);
    expect(ra.status).toBe('final');
    expect(ci.status).toBe('completed');
    expect(ci.previous).toEqual({ reference: firstImpression });
    expect(errorsOf(ci, 'final')).toEqual([]);
    expect(result.written.slice(0, 2)).toEqual(firstDevices); // the same Devices, not new ones
    // The third Provenance records the superseding of the first (preliminary) assessment: see supersede.test.ts.
    expect(result.superseded).toHaveLength(2);
    expect(countOutputs(h.sandbox)).toEqual({ RiskAssessment: 2, ClinicalImpression: 2, Provenance: 3, Device: 2 });
  });

  it('When the output does not validate (a percentage where the profile wants 0–1), Then nothing at all is written and the OperationOutcome names the rule', async () => {
    const { input } = await assessGoff(h.client, patientId, 'bad');
    const before = countOutputs(h.sandbox);
    const output = structuredClone(input.output);
    output.modelVersion = '9.9.9'; // a new model version: even its Device must not be created
    output.predictions[0].probability = 5.38;
    const err = await writeBack(h.client, { ...input, output }, h.deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteBackValidationError);
    const issues = (err as WriteBackValidationError).outcome.issue ?? [];
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'invariant' });
    expect(issues[0].details?.text).toMatch(/RiskAssessment.*fa-ra-5.*0-1 scale/);
    expect(countOutputs(h.sandbox)).toEqual(before);
  });
});
