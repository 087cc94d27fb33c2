import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Job } from 'bullmq';

/** Who a failed assessment's failure belongs to. */
export type FailureKind =
  /** The EHR does not hold the patient (404/410 reading `Patient/{id}`). */
  | 'patient-not-found'
  /** The EHR answered a request with a 4xx (credentials, scopes, a refused write...). */
  | 'ehr-refused'
  /** The EHR answered 5xx/408/429, or not at all, on every attempt. */
  | 'ehr-unavailable'
  /** The hosted model's endpoint failed or answered unusably. */
  | 'model'
  /** Anything else: a fault inside fhir-assess (including output that failed validation). */
  | 'internal';

/** A failed assessment job, explained: for the status URL, the synchronous `$assess` and backfill output. */
export interface JobFailure {
  kind: FailureKind;
  /**
   * HTTP status that describes it to an API caller: 404/410 when the patient is not on the EHR, 502
   * when the EHR or the hosted model (upstream of us) failed or refused, 500 for our own faults.
   */
  status: number;
  /** What failed, as one sentence (ids and paths only). */
  what: string;
  /** What to do about it. */
  next: string;
  /** The EHR's own answer, when the EHR refused or failed: its status and OperationOutcome text. */
  ehr?: { status?: number; path?: string; text: string };
}

type FailedJob = Pick<Job, 'id' | 'failedReason' | 'stacktrace' | 'attemptsMade'> & {
  data?: { source?: string; patientId?: string; priority?: string };
};

/** `EHR refused (HTTP 404) at /fhir/R4/Patient/1: Not found` (jobs/workers.ts); the ` at PATH` part is newer. */
const EHR_ANSWER = /^EHR (refused|failed) \(HTTP (\d{3})\)(?: at (\S*))?: ?([\s\S]*)$/;
/** The FhirClient's own text for an EHR answer without an OperationOutcome. */
const BARE_ANSWER = /EHR answered HTTP (\d{3}) to \S+ (\S+)/;
/** A write-back transaction entry the EHR refused (writeback/send.ts). */
const ENTRY_REFUSED = /^write-back entry \d+ \(\w+\) failed with status (\d{3})/;

/**
 * Explains a failed assessment job from what BullMQ kept of it: its `failedReason` (whose prefixes
 * jobs/workers.ts `classify` writes) and the error's class name (the first line of its last stack).
 */
export function describeFailure(job: FailedJob): JobFailure {
  const reason = (job.failedReason ?? '').trim() || 'no reason recorded';
  const errorName = /^(\w+)(?::|$)/.exec(job.stacktrace?.at(-1) ?? '')?.[1];
  const source = job.data?.source ?? 'the EHR';
  const patient = job.data?.patientId ? `Patient/${job.data.patientId}` : 'the patient';
  const retry = `then retry: ${retryHow(job)}`;
  const attempts = `${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}`;

  const answer = EHR_ANSWER.exec(reason);
  if (answer) {
    const [, verb, code, path, text] = answer;
    const status = Number(code);
    const ehr = { status, path, text: text.trim() };
    const at = path ? ` to ${path}` : '';
    if ((status === 404 || status === 410) && (!path || path.endsWith(`/${patient}`) || path === patient)) {
      return {
        kind: 'patient-not-found',
        status,
        what: `${patient} is not on source '${source}' (the EHR answered ${status} reading it)`,
        next: 'nothing to retry unless the patient is restored on the EHR',
        ehr,
      };
    }
    if (verb === 'failed') return unavailable(`answered HTTP ${status}${at}`, ehr);
    const credentials = status === 401 || status === 403;
    return {
      kind: 'ehr-refused',
      status: 502,
      what: `source '${source}' refused fhir-assess's request${at} with HTTP ${status}`,
      next: credentials
        ? `check the credentials and scopes fhir-assess uses for source '${source}' (it reads the record and creates RiskAssessment, ClinicalImpression, Provenance and Device), ${retry}`
        : `fix the cause the EHR names (next issue) on the EHR or in source '${source}''s settings, ${retry}`,
      ehr,
    };
  }
  if (errorName === 'FhirHttpError') {
    const bare = BARE_ANSWER.exec(reason);
    return unavailable(`failed on every attempt`, { status: bare ? Number(bare[1]) : undefined, text: reason });
  }
  if (errorName === 'FhirConnectionError') return unavailable('could not be reached', { text: reason });
  const refusedEntry = ENTRY_REFUSED.exec(reason);
  if (refusedEntry) {
    return {
      kind: 'ehr-refused',
      status: 502,
      what: `source '${source}' refused part of the write-back transaction (entry status ${refusedEntry[1]})`,
      next: `look for the EHR's reason in its logs (it gave none in the transaction-response), ${retry}`,
      ehr: { status: Number(refusedEntry[1]), text: reason },
    };
  }
  if (/^AuthError: /.test(reason) || errorName === 'AuthError') {
    return {
      kind: 'ehr-refused',
      status: 502,
      what: `fhir-assess could not obtain a token for source '${source}'`,
      next: `check that source's auth settings (client id, key or secret, token URL, scopes), ${retry}`,
      ehr: { text: reason.replace(/^AuthError: /, '') },
    };
  }
  if (/^(ForeignUrlError: )?refusing to contact .* not under the configured FHIR base URL/.test(reason)) {
    return {
      kind: 'ehr-refused',
      status: 502,
      what: `source '${source}' answered with a link outside its FHIR base URL, which fhir-assess never follows`,
      next: `check the source's fhirBaseUrl against the URLs the EHR puts in its answers (e.g. behind a proxy), ${retry}`,
      ehr: { text: reason.replace(/^ForeignUrlError: /, '') },
    };
  }
  if (/^FhirResponseTooLargeError: /.test(reason) || errorName === 'FhirResponseTooLargeError') {
    return {
      kind: 'ehr-refused',
      status: 502,
      what: `source '${source}' sent an answer larger than the configured limit`,
      next: `raise the source's maxResponseBytes or lower record.pageSize, ${retry}`,
      ehr: { text: reason.replace(/^FhirResponseTooLargeError: /, '') },
    };
  }
  if (/^hosted model \(/.test(reason) || errorName === 'RemoteModelError') {
    return {
      kind: 'model',
      status: 502,
      what: `the hosted model failed for ${patient} after ${attempts}: ${reason}`,
      next: `check the model endpoint and its settings; nothing was written; ${retry}`,
    };
  }
  return {
    kind: 'internal',
    status: 500,
    what: `the assessment of ${patient} failed inside fhir-assess after ${attempts} (${errorName && errorName !== 'Error' && errorName !== 'UnrecoverableError' ? `${errorName}: ` : ''}${reason})`,
    next: `this is not caused by the request; the worker log and \`fhir-assess jobs failed\` show job ${job.id}; please report it, and once fixed ${retry.replace(/^then /, '')}`,
  };

  function unavailable(how: string, ehr: JobFailure['ehr']): JobFailure {
    return {
      kind: 'ehr-unavailable',
      status: 502,
      what: `source '${source}' ${how} (${attempts}) while assessing ${patient}`,
      next: `the EHR may be down, overloaded or unreachable; once it answers again, ${retry.replace(/^then /, '')}`,
      ehr,
    };
  }
}

/** How to run a failed job again, by what started it. */
function retryHow(job: FailedJob): string {
  const cli = `\`fhir-assess jobs retry ${job.id}\``;
  const priority = job.data?.priority;
  if (priority === 'api' || priority === 'batch') return `POST the $assess again, or ${cli}`;
  if (priority === 'backfill')
    return `run the same backfill command again (it retries its failed assessments), or ${cli}`;
  return `${cli} (or wait for the patient's next change)`;
}

/** The failure as one line (the batch-response entries, backfill output). */
export function failureText(f: JobFailure): string {
  const answer = f.ehr ? ` (EHR answer: ${ehrAnswer(f.ehr)})` : '';
  return `${f.what}${answer}; ${f.next}`;
}

/**
 * The OperationOutcome a failed request answers with: what failed and what to do (issue 1), and the
 * EHR's own answer when there is one (issue 2).
 */
export function failureOutcome(f: JobFailure, subject: string): OperationOutcome {
  const issue: OperationOutcomeIssue[] = [
    { severity: 'error', code: issueCode(f), diagnostics: `${subject}: ${f.what}; ${f.next}` },
  ];
  if (f.ehr)
    issue.push({ severity: 'error', code: ehrIssueCode(f.ehr.status), diagnostics: `EHR answer: ${ehrAnswer(f.ehr)}` });
  return { resourceType: 'OperationOutcome', issue };
}

function ehrAnswer(e: NonNullable<JobFailure['ehr']>): string {
  const status = e.status ? `HTTP ${e.status}` : '';
  return [status, e.text].filter(Boolean).join(': ') || 'none';
}

function issueCode(f: JobFailure): OperationOutcomeIssue['code'] {
  if (f.kind === 'patient-not-found') return 'not-found';
  if (f.kind === 'ehr-refused') return f.ehr?.status === 401 || f.ehr?.status === 403 ? 'security' : 'processing';
  if (f.kind === 'ehr-unavailable') return 'transient';
  return 'exception';
}

function ehrIssueCode(status: number | undefined): OperationOutcomeIssue['code'] {
  if (status === 401 || status === 403) return 'security';
  if (status === 404 || status === 410) return 'not-found';
  if (status === 408 || status === 429 || (status ?? 0) >= 500) return 'transient';
  return 'processing';
}
