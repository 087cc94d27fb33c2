#!/usr/bin/env node
import { UsageError } from './cli/args.js';
import { ConfigError } from './config/config.js';

const USAGE = `fhir-assess: AI risk assessments from EHR events, written back as FHIR

Usage:
  fhir-assess demo [--keep] [--patients N] [--behave generic|medplum|hapi|epic]
                                                     the whole pipeline on embedded defaults
  fhir-assess serve | worker | all                   HTTP intake/API, BullMQ workers, or both (configured by env)
  fhir-assess sandbox [--port 8103] [--data FILE] [--patients N] [--behave generic|medplum|hapi|epic]
                      [--smart-client-id ID --smart-jwks FILE]
                                                     the embedded FHIR R4 sandbox EHR, behaving like the named EHR
  fhir-assess score FILE [--as-of DATE] [--models ID,...] [--format json|table]
                                                     the embedded calculators over a Bundle file, offline
  fhir-assess shadow list [--model ID[@VERSION]] [--patient ID] [--limit N] [--format table|json]
  fhir-assess shadow show KEY                        what shadow-mode models would have written (contains PHI)
  fhir-assess backfill (--all | --group ID | --patients FILE) [--since DATE] [--models ID,...] [--rate N/s]
                       [--dry-run] [--source NAME] [--strategy auto|bulk|search] [--restart] [--detach] [--quiet]
                                                     assess a population at backfill priority (resumable)
  fhir-assess validate --model ID[@VERSION][,ID...] --as-of DATE [--horizon 10y] [--records-complete-until DATE]
                       [--population all|Group/ID]
                       [--patients FILE] [--out DIR] [--rate N/s] [--concurrency N] [--bootstrap N] [--seed N]
                       [--source NAME] [--restart] [--quiet]
                                                     retrospective validation on the EHR's own records (read only)
  fhir-assess jobs failed [--queue NAME] [--limit N] failed jobs: id, queue, patient ref, reason, attempts, time
  fhir-assess jobs retry (ID... | --all) [--queue NAME]
                                                     move failed jobs back to waiting
  fhir-assess models list | show ID@VERSION         model versions: mode, who approved it, evidence, counts
  fhir-assess models promote ID@VERSION --to shadow|preliminary|final --by WHO --reason TEXT [--evidence ID]
  fhir-assess models retire ID@VERSION --by WHO --reason TEXT
  fhir-assess models recall ID@VERSION --by WHO --reason TEXT [--rate N/s]
                                                     stop a version and mark every output it wrote entered-in-error (resumable)
  fhir-assess models compare ID@A ID@B [--format table|json]
                                                     shadow vs live on the same patients (Cohen's kappa, risk differences)
  fhir-assess audit [--patient REF] [--model ID[@V]] [--action A,...] [--entity REF] [--since DATE] [--until DATE]
                    [--format table|csv|ndjson] [--limit N]
                                                     the inference audit trail (PostgreSQL); CSV/NDJSON export
  fhir-assess audit verify | purge                   check the hash chain; remove records past AUDIT_RETENTION_DAYS
  fhir-assess subscriptions [--source NAME] [--repair]
                                                     our Subscriptions on each EHR as it reports them (exit 1: one does not deliver)

Configuration: environment variables, see README.md (FHIR_BASE_URL, REDIS_URL, PORT, PUBLIC_URL, ...).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return (await import('./cli/demo.js')).demoCommand(rest);
    case 'serve':
    case 'worker':
    case 'all':
      return (await import('./cli/serve.js')).serveCommand(command);
    case 'sandbox':
      return (await import('./cli/sandbox.js')).sandboxCommand(rest);
    case 'score':
      return (await import('./cli/score.js')).scoreCommand(rest);
    case 'shadow':
      return (await import('./cli/shadow.js')).shadowCommand(rest);
    case 'backfill':
      return (await import('./cli/backfill.js')).backfillCommand(rest);
    case 'validate':
      return (await import('./cli/validate.js')).validateCommand(rest);
    case 'jobs':
      return (await import('./cli/jobs.js')).jobsCommand(rest);
    case 'models':
      return (await import('./cli/models.js')).modelsCommand(rest);
    case 'audit':
      return (await import('./cli/audit.js')).auditCommand(rest);
    case 'subscriptions':
      return (await import('./cli/subscriptions.js')).subscriptionsCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    // Expected refusals (a lifecycle rule, no database): the message says what to do; no stack trace.
    if (err instanceof Error && ['LifecycleError', 'NoDatabaseError', 'ReviewError'].includes(err.name)) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    process.stderr.write(`error: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
