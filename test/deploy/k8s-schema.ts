import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
/** The packages' `exports` do not list their compiled schemas: load them by path inside the package. */
const packageDir = (name: string) => dirname(require.resolve(name));

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}
type Validate = ((data: unknown) => boolean) & { errors?: SchemaError[] | null };

/**
 * The Kubernetes OpenAPI schemas (v1.27, as compiled by kubernetes-models) and KEDA's CRD schema
 * (@kubernetes-models/keda), for every kind our manifests use. A kind not listed is a failure.
 */
const SCHEMAS: Record<string, string> = {
  'v1/Namespace': 'kubernetes-models/_schemas/IoK8sApiCoreV1Namespace.js',
  'v1/ServiceAccount': 'kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount.js',
  'v1/ConfigMap': 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap.js',
  'v1/Secret': 'kubernetes-models/_schemas/IoK8sApiCoreV1Secret.js',
  'v1/Service': 'kubernetes-models/_schemas/IoK8sApiCoreV1Service.js',
  'apps/v1/Deployment': 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment.js',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget.js',
  'autoscaling/v2/HorizontalPodAutoscaler':
    'kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler.js',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/_schemas/IoK8sApiNetworkingV1NetworkPolicy.js',
  'keda.sh/v1alpha1/ScaledObject': '@kubernetes-models/keda/_schemas/KedaShV1alpha1ScaledObject.js',
};

/**
 * Problems of one object against its kind's schema: wrong types, missing required fields, bad enum
 * values; and, stricter than the schema (Kubernetes OpenAPI does not forbid extra properties, but
 * `kubectl apply --validate=strict` does), every field the schema does not know. Unknown fields are
 * found by watching which properties the compiled validator reads: it reads each declared property
 * of an object and iterates the keys of free-form maps (labels, data), so an own key it never touched
 * is not in the schema (a typo such as `contianerPort`).
 */
export function schemaProblems(obj: { apiVersion?: string; kind?: string }): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const file = SCHEMAS[key];
  if (!file) return [`${key}: no schema for this kind (add it to test/deploy/k8s-schema.ts)`];
  const [pkg, path] = file.startsWith('@')
    ? [file.split('/').slice(0, 2).join('/'), file.split('/').slice(2).join('/')]
    : [file.split('/')[0], file.split('/').slice(1).join('/')];
  const validate = (require(join(packageDir(pkg), path)) as { validate: Validate }).validate;
  const read = new Map<object, Set<PropertyKey>>();
  const watched = watch(obj, read);
  const problems: string[] = [];
  if (!validate(watched)) {
    for (const e of validate.errors ?? []) problems.push(`${e.instancePath || '/'}: ${describe(e)}`);
  }
  problems.push(...unread(obj, read, ''));
  return problems;
}

function watch<T>(value: T, read: Map<object, Set<PropertyKey>>): T {
  if (value === null || typeof value !== 'object') return value;
  const seen = new Set<PropertyKey>();
  read.set(value, seen);
  return new Proxy(value as object, {
    get(target, prop, receiver) {
      seen.add(prop);
      return watch(Reflect.get(target, prop, receiver), read);
    },
    ownKeys(target) {
      for (const k of Reflect.ownKeys(target)) seen.add(k);
      return Reflect.ownKeys(target);
    },
  }) as T;
}

function unread(value: unknown, read: Map<object, Set<PropertyKey>>, path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const seen = read.get(value);
  if (!seen) return []; // inside a part the validator rejected already
  return Object.entries(value).flatMap(([k, v]) =>
    seen.has(k) || Array.isArray(value) ? unread(v, read, `${path}/${k}`) : [`${path}/${k}: unknown field`],
  );
}

/** The compiled validators carry no messages: say what each keyword means. */
function describe(e: SchemaError): string {
  if (e.keyword === 'type') return `must be ${e.params.type}`;
  if (e.keyword === 'required') return `must have required property '${e.params.missingProperty}'`;
  if (e.keyword === 'enum') return `must be one of ${JSON.stringify(e.params.allowedValues)}`;
  return `${e.keyword} ${JSON.stringify(e.params)}`;
}
