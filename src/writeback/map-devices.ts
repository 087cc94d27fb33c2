import type { Device } from '@medplum/fhirtypes';
import type { ModelOutput } from '../models/model.js';
import { AI_DEVICE_TYPE, DEVICE_ID_SYSTEM } from './ai-transparency.js';
import { PROFILE } from './profiles/profiles.js';

/** Who answers for the embedded models' Devices (`Device.owner`, display only: no Organization is created). */
const OWNER_DISPLAY = 'fhir-assess project (embedded published risk equations)';

/** The model version as a Device (AI Transparency AIDevice shape): one per model id@version and EHR. */
export function modelDevice(output: Pick<ModelOutput, 'modelId' | 'modelVersion'>, title: string): Device {
  return {
    resourceType: 'Device',
    meta: { profile: [PROFILE.modelDevice] },
    identifier: [{ system: DEVICE_ID_SYSTEM, value: `${output.modelId}@${output.modelVersion}` }],
    status: 'active',
    manufacturer: 'fhir-assess',
    deviceName: [{ name: title, type: 'model-name' }],
    modelNumber: output.modelId,
    type: AI_DEVICE_TYPE,
    version: [{ value: output.modelVersion }],
    owner: { display: OWNER_DISPLAY },
    note: [{ text: 'Embedded published clinical risk equations; see the model card in the fhir-assess README.' }],
  };
}

/** This service as a Device: the Provenance assembler (not an AI: validated against the base Device). */
export function serviceDevice(version: string): Device {
  return {
    resourceType: 'Device',
    identifier: [{ system: DEVICE_ID_SYSTEM, value: `fhir-assess-service@${version}` }],
    status: 'active',
    manufacturer: 'fhir-assess',
    deviceName: [{ name: 'fhir-assess integration service', type: 'user-friendly-name' }],
    version: [{ value: version }],
  };
}

/** `system|value` of a resource's first identifier: the conditional-create key. */
export function identifierToken(r: { identifier?: { system?: string; value?: string }[] }): string {
  const id = r.identifier?.[0];
  if (!id?.system || !id.value) throw new Error('resource has no identifier to key its conditional create');
  return `${id.system}|${id.value}`;
}
