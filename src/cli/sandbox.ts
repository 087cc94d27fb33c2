import { DEFAULT_PATIENTS_FILE } from '../paths.js';
import { startSandbox } from '../sandbox/index.js';
import { createLogger } from '../util/logger.js';
import { intOption, parse } from './args.js';

/** `sandbox [--port 8103] [--data FILE]... [--patients N]`: the embedded EHR, until Ctrl-C. */
export async function sandboxCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    port: { type: 'string' },
    data: { type: 'string', multiple: true },
    patients: { type: 'string' },
    host: { type: 'string' },
  });
  const started = Date.now();
  const sandbox = await startSandbox({
    port: intOption(values.port as string | undefined, 'port', 8103),
    host: values.host as string | undefined,
    dataFiles: (values.data as string[] | undefined) ?? [DEFAULT_PATIENTS_FILE],
    patients: values.patients === undefined ? undefined : intOption(values.patients as string, 'patients', 0),
    logger: createLogger(process.env.LOG_LEVEL ?? 'info', 'sandbox'),
  });
  process.stdout.write(
    `Sandbox EHR ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${sandbox.baseUrl}\nTry: curl ${sandbox.baseUrl}/Patient?_count=5\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.close();
  return 0;
}
