import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigSchema, loadConfig } from '../../src/config/config.js';
import { schemaProblems } from './k8s-schema.js';

/*
 * deploy/k8s (issue 14): the kustomize base and each overlay, rendered by kustomize (the one built
 * into kubectl; no cluster is contacted), validated against the Kubernetes OpenAPI schemas (and
 * KEDA's), then checked for what operations needs: probes, resources, non-root read-only
 * containers, disruption budgets, autoscaling, an egress allow-list and every secret from a Secret.
 */
const K8S = join(process.cwd(), 'deploy', 'k8s');
const TARGETS = ['base', 'overlays/single-hospital', 'overlays/hospital-network'];
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
if (!hasKubectl)
  console.warn(
    'deploy/k8s overlays not rendered: kubectl (with its built-in kustomize) is not installed; base files checked one by one',
  );

/** Settings that are secret: never in a ConfigMap or a literal value, always from a Secret. */
const SECRET_SETTINGS = [
  'REDIS_URL',
  'NOTIFY_SECRET',
  'NOTIFY_HMAC_SECRET',
  'FHIR_BEARER_TOKEN',
  'DATABASE_URL',
  'DEIDENTIFY_SECRET',
  'API_KEYS',
  'ADMIN_PASSWORD',
  'OTEL_EXPORTER_OTLP_HEADERS',
];
/** Environment variables that are not ours but read by Node or the OpenTelemetry SDK, or used in $(...). */
const FOREIGN_ENV = ['NODE_OPTIONS', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_RESOURCE_ATTRIBUTES', 'POD_NAME'];

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML
type Obj = Record<string, any>;

function render(target: string): Obj[] {
  const text = hasKubectl
    ? execFileSync('kubectl', ['kustomize', join(K8S, target)], { encoding: 'utf8' })
    : (parseAllDocuments(readFileSync(join(K8S, target, 'kustomization.yaml'), 'utf8'))[0].toJS().resources as string[])
        .map((f) => readFileSync(join(K8S, target, f), 'utf8'))
        .join('\n---\n');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

const targets = hasKubectl ? TARGETS : ['base'];

describe.each(targets)('deploy/k8s/%s', (target) => {
  const objects = render(target);
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const deployments = ['serve', 'worker'].map((role) => ({ role, d: find('Deployment', `fhir-assess-${role}`)! }));

  it('When rendered, Then every object is valid against the Kubernetes (and KEDA) OpenAPI schemas, unknown fields included', () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    const problems = objects.flatMap((o) => schemaProblems(o).map((p) => `${o.kind}/${o.metadata?.name}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('Then serve and worker run the same image as non-root, read-only, unprivileged containers with probes and resources', () => {
    const images = new Set<string>();
    for (const { role, d } of deployments) {
      expect(d, `Deployment fhir-assess-${role}`).toBeDefined();
      const pod = d.spec.template.spec;
      const [c] = pod.containers;
      images.add(c.image);
      expect(c.args).toEqual([role]);
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30); // the process force-exits after 30 s
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      const port = c.ports.find((p: Obj) => p.name === c.readinessProbe.httpGet.port);
      expect(port, 'the probe port is declared').toBeDefined();
      expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources.limits.memory).toBeDefined();
      // The probe port is the one the process serves them on.
      const config = find('ConfigMap', 'fhir-assess-config')!.data;
      expect(String(port.containerPort)).toBe(role === 'serve' ? config.PORT : config.HEALTH_PORT);
    }
    expect(images.size).toBe(1);
  });

  it('Then disruption budgets and autoscalers cover both Deployments, workers on the assess queue depth', () => {
    for (const { role, d } of deployments) {
      const pdb = find('PodDisruptionBudget', `fhir-assess-${role}`)!;
      expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    }
    expect(find('HorizontalPodAutoscaler', 'fhir-assess-serve')!.spec.scaleTargetRef.name).toBe('fhir-assess-serve');
    const keda = find('ScaledObject', 'fhir-assess-worker')!;
    expect(keda.spec.scaleTargetRef.name).toBe('fhir-assess-worker');
    expect(keda.spec.triggers[0]).toMatchObject({ type: 'prometheus' });
    expect(keda.spec.triggers[0].metadata.query).toMatch(/fhir_assess_jobs\{queue="assess"/);
  });

  it('Then egress is allowed only to DNS, Redis, PostgreSQL, the EHR and the model endpoint (and a collector where tracing is on)', () => {
    const policy = find('NetworkPolicy', 'fhir-assess')!;
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'fhir-assess' });
    const rules = policy.spec.egress.map((r: Obj) => r.ports.map((p: Obj) => `${p.protocol}/${p.port}`).join(','));
    expect(rules).toEqual(['UDP/53,TCP/53', 'TCP/6379', 'TCP/5432', 'TCP/443', 'TCP/443']);
    for (const rule of policy.spec.egress) expect(rule.to.length).toBeGreaterThan(0); // never "to anywhere"
    expect(
      policy.spec.egress[3].to.every((t: Obj) => t.ipBlock && !t.ipBlock.except && t.ipBlock.cidr !== '0.0.0.0/0'),
    ).toBe(true);
    const extra = objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name !== 'fhir-assess');
    const config = find('ConfigMap', 'fhir-assess-config')!.data;
    expect(extra.map((o) => o.metadata.name)).toEqual(config.OTEL_EXPORTER_OTLP_ENDPOINT ? ['fhir-assess-otel'] : []);
  });

  it('Then every secret setting comes from a Secret, every variable is a known setting, and the settings load', () => {
    const config = find('ConfigMap', 'fhir-assess-config')!.data as Record<string, string>;
    const known = new Set([...Object.keys(ConfigSchema.shape), ...FOREIGN_ENV]);
    expect(Object.keys(config).filter((k) => !known.has(k))).toEqual([]);
    expect(Object.keys(config).filter((k) => SECRET_SETTINGS.includes(k))).toEqual([]);
    for (const { d } of deployments) {
      const env = d.spec.template.spec.containers[0].env as Obj[];
      expect(env.filter((e) => !known.has(e.name)).map((e) => e.name)).toEqual([]);
      for (const name of SECRET_SETTINGS) {
        const e = env.find((x) => x.name === name);
        expect(e?.valueFrom?.secretKeyRef, `${name} from a Secret`).toMatchObject({
          name: 'fhir-assess-secrets',
          key: name,
        });
      }
    }
    // What a pod would see, with example secrets: the whole configuration validates (exit 78 otherwise).
    const secrets = {
      REDIS_URL: config.SOURCES_FILE ? 'redis+cluster://redis-0.redis:6379,redis-1.redis:6379' : 'redis://redis:6379',
      NOTIFY_SECRET: 'a-notify-secret-of-enough-length',
    };
    const sourcesFile = config.SOURCES_FILE
      ? join(K8S, 'overlays', 'hospital-network', 'sources.example.json')
      : undefined;
    const cfg = loadConfig({
      ...config,
      ...secrets,
      ...(sourcesFile ? { SOURCES_FILE: sourcesFile, NOTIFY_SECRET: undefined } : {}),
    });
    expect(cfg.QUEUE_PREFIX).toMatch(/^\{.+\}$/);
  });
});

describe('the schema check itself', () => {
  const deployment = () =>
    JSON.parse(
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'x', labels: { a: 'b' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { a: 'b' } },
          template: {
            metadata: { labels: { a: 'b' } },
            spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }] }] },
          },
        },
      }),
    ) as Obj;

  it('When a manifest has a wrong type, a missing required field or a misspelt field, Then each is reported', () => {
    expect(schemaProblems(deployment())).toEqual([]);
    const wrongType = deployment();
    wrongType.spec.replicas = 'two';
    expect(schemaProblems(wrongType)).toEqual(['/spec/replicas: must be integer']);
    const missing = deployment();
    delete missing.spec.template.spec.containers[0].name;
    expect(schemaProblems(missing).join()).toMatch(/must have required property 'name'/);
    const typo = deployment();
    typo.spec.template.spec.containers[0].ports[0].contianerPort = 8080;
    expect(schemaProblems(typo)).toContain('/spec/template/spec/containers/0/ports/0/contianerPort: unknown field');
    expect(schemaProblems({ apiVersion: 'v9', kind: 'Nope' })).toEqual([
      'v9/Nope: no schema for this kind (add it to test/deploy/k8s-schema.ts)',
    ]);
  });
});

describe('the Docker image and docker-compose.yml, in step with deploy/k8s', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const compose = parseAllDocuments(readFileSync('docker-compose.yml', 'utf8'))[0].toJS() as Obj;
  const worker = render('base').find((o) => o.metadata.name === 'fhir-assess-worker')!;

  it('Then the image runs as the uid the pods require, and the compose worker is probed on HEALTH_PORT like the pod', () => {
    expect(dockerfile).toMatch(/^USER node$/m); // uid 1000 in the official node images
    expect(worker.spec.template.spec.securityContext.runAsUser).toBe(1000);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/cli\.js"\]$/m);
    const w = compose.services.worker;
    expect(w.command).toEqual(['worker']);
    expect(w.environment.HEALTH_PORT).toBe('8081');
    expect(w.healthcheck.test.join(' ')).toContain(`127.0.0.1:${w.environment.HEALTH_PORT}/readyz`);
    expect(compose.services.api.command).toEqual(['serve']);
    expect(compose['x-fhir-assess-env'].QUEUE_PREFIX).toBe('{fhir-assess}');
  });
});
