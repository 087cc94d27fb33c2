import { readFileSync } from 'node:fs';
import { DEFAULT_PATIENTS_FILE } from '../paths.js';
import {
  EHR_PROFILE_NAMES,
  EHR_PROFILES,
  type EhrProfileName,
  isEhrProfileName,
  SandboxOptionsError,
  type SmartClient,
  startSandbox,
} from '../sandbox/index.js';
import { createLogger } from '../util/logger.js';
import { intOption, parse, UsageError } from './args.js';

/**
 * `sandbox [--port 8103] [--data FILE]... [--patients N] [--behave generic|medplum|hapi|epic]
 * [--smart-client-id ID --smart-jwks FILE]`: the embedded EHR, until Ctrl-C.
 */
export async function sandboxCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    port: { type: 'string' },
    data: { type: 'string', multiple: true },
    patients: { type: 'string' },
    host: { type: 'string' },
    behave: { type: 'string' },
    'smart-client-id': { type: 'string' },
    'smart-jwks': { type: 'string' },
  });
  const behave = profileOption(values.behave as string | undefined);
  const smartClients = smartClientOption(
    behave,
    values['smart-client-id'] as string | undefined,
    values['smart-jwks'] as string | undefined,
  );
  const dataFiles = (values.data as string[] | undefined) ?? [DEFAULT_PATIENTS_FILE];
  const profile = EHR_PROFILES[behave];
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Sandbox profile ${profile.name}: imitates ${profile.imitates}`);
  for (const line of profile.behaviour) out(`  - ${line}`);
  const started = Date.now();
  const sandbox = await startSandbox({
    port: intOption(values.port as string | undefined, 'port', 8103),
    host: values.host as string | undefined,
    dataFiles,
    patients: values.patients === undefined ? undefined : intOption(values.patients as string, 'patients', 0),
    logger: createLogger(process.env.LOG_LEVEL ?? 'info', 'sandbox'),
    behave,
    smartClients,
    onListening: (port) =>
      out(`Listening on port ${port}; loading ${dataFiles.length} data file(s), FHIR requests answer 503 until done`),
  }).catch((err) => {
    throw err instanceof SandboxOptionsError ? new UsageError(err.message) : err;
  });
  // The ready line comes last (scripts and tests read until it) and keeps " at {baseUrl}" as the
  // only " at http" text printed: src/bench waits for it.
  if (sandbox.tokenUrl) {
    out(`SMART Backend Services token endpoint: ${sandbox.tokenUrl} (client ${smartClients?.[0].clientId})`);
  }
  out(`Sandbox EHR ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${sandbox.baseUrl}`);
  out(`Try: curl ${sandbox.baseUrl}/${sandbox.tokenUrl ? '.well-known/smart-configuration' : 'Patient?_count=5'}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.close();
  return 0;
}

function profileOption(value: string | undefined): EhrProfileName {
  if (value === undefined) return 'generic';
  if (!isEhrProfileName(value)) {
    throw new UsageError(`--behave must be one of ${EHR_PROFILE_NAMES.join(', ')}, got '${value}'`);
  }
  return value;
}

/** `--smart-client-id` + `--smart-jwks` (a public JWKS JSON file), required by profiles with SMART auth. */
function smartClientOption(
  behave: EhrProfileName,
  clientId: string | undefined,
  jwksFile: string | undefined,
): SmartClient[] | undefined {
  const needsAuth = !!EHR_PROFILES[behave].quirks.smartBackendAuth;
  if (!clientId && !jwksFile) {
    if (needsAuth) {
      throw new UsageError(
        `--behave ${behave} requires SMART Backend Services: give --smart-client-id ID --smart-jwks FILE`,
      );
    }
    return undefined;
  }
  if (!needsAuth) throw new UsageError(`--smart-client-id/--smart-jwks only apply to --behave epic`);
  if (!clientId || !jwksFile) throw new UsageError('--smart-client-id and --smart-jwks go together');
  let jwks: SmartClient['jwks'];
  try {
    jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as SmartClient['jwks'];
  } catch (err) {
    throw new UsageError(`--smart-jwks ${jwksFile}: cannot read a JSON JWKS (${(err as Error).message})`);
  }
  return [{ clientId, jwks }];
}
