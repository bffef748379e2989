/**
 * infra/k8s: every overlay is built with `kubectl kustomize` (the kustomize inside kubectl, as a
 * user or a GitOps controller builds it) and the output is checked: probes on the server's real
 * routes, resources, the restricted security context, HPA bounds, disruption budget, selectors
 * that match the pods, workload identity, and no secret material anywhere.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/processes';

const K8S = path.join(ROOT, 'infra', 'k8s');
const OVERLAYS = readdirSync(path.join(K8S, 'overlays'));
const DEPLOYMENT_OVERLAYS = OVERLAYS.filter((name) => name !== 'knative');

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects, checked field by field below.
type K8sObject = any;

const built = new Map<string, K8sObject[]>();
function build(folder: string): K8sObject[] {
  let objects = built.get(folder);
  if (objects === undefined) {
    const text = execFileSync('kubectl', ['kustomize', path.join(K8S, folder)], { encoding: 'utf8' });
    objects = parseAllDocuments(text).map((doc) => doc.toJS());
    built.set(folder, objects);
  }
  return objects;
}

function one(objects: K8sObject[], kind: string, apiVersion?: string): K8sObject {
  const found = objects.filter(
    (o) => o.kind === kind && (apiVersion === undefined || o.apiVersion === apiVersion),
  );
  expect(found).toHaveLength(1);
  return found[0];
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The container checks shared by the Deployment and the Knative Service. */
function checkContainer(container: K8sObject, podSecurity: K8sObject, volumes: K8sObject[]): void {
  expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
  expect(container.livenessProbe.httpGet.path).toBe('/v2/health/live');
  for (const kind of ['requests', 'limits']) {
    expect(container.resources[kind]).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
  }
  expect(podSecurity).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(container.securityContext).toMatchObject({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  });
  // A read-only root still needs a writable /tmp for the artifact cache.
  const tmp = container.volumeMounts.find((m: K8sObject) => m.mountPath === '/tmp');
  expect(volumes.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  const keys = container.env.find((e: K8sObject) => e.name === 'API_KEYS');
  expect(keys).toEqual({
    name: 'API_KEYS',
    valueFrom: { secretKeyRef: { name: 'modelfleet-api-keys', key: 'API_KEYS' } },
  });
}

function checkNoSecrets(folder: string): void {
  const objects = build(folder);
  expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  const text = JSON.stringify(objects);
  // API key hashes, storage account keys, connection strings, AWS keys: none in the repository.
  expect(text).not.toMatch(/\b[0-9a-f]{64}\b/i);
  expect(text).not.toMatch(/AccountKey=|SharedAccessSignature=|AKIA[0-9A-Z]{16}|BEGIN [A-Z ]*PRIVATE KEY/);
  for (const configMap of objects.filter((o) => o.kind === 'ConfigMap')) {
    for (const name of Object.keys(configMap.data ?? {})) {
      expect(name).not.toMatch(/KEY|SECRET|TOKEN|PASSWORD|CONNECTION_STRING/);
    }
  }
}

describe('infra/k8s overlays (kubectl kustomize)', () => {
  it('has the overlays the README documents', () => {
    expect(OVERLAYS.sort()).toEqual(['aks', 'dev', 'gke', 'knative', 'prod']);
  });

  it.each(DEPLOYMENT_OVERLAYS)(
    '%s: Deployment with probes, resources and a restricted security context',
    (overlay) => {
      const objects = build(`overlays/${overlay}`);
      const deployment = one(objects, 'Deployment');
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      checkContainer(container, pod.securityContext, pod.volumes);
      // The server listens only after the preload: the startup probe must allow for it (≥ 2 min).
      const startup = container.startupProbe;
      expect(startup.httpGet.path).toBe('/v2/health/live');
      expect(startup.periodSeconds * startup.failureThreshold).toBeGreaterThanOrEqual(120);
      expect(container.image).toMatch(/^[\w.-]+(:\d+)?\/[\w./-]+:[\w.-]+$/);
      expect(pod.automountServiceAccountToken).toBe(false);
      const configMap = one(objects, 'ConfigMap');
      expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
      expect(configMap.data.MODELFLEET_STAGE).toBe(overlay === 'dev' ? 'dev' : 'prod');
      expect(configMap.data.MODEL_REPOSITORY).toMatch(/^(s3|gs|az):\/\//);
    },
  );

  it.each(DEPLOYMENT_OVERLAYS)(
    '%s: Service, HPA, PDB and NetworkPolicy select the pods within sane bounds',
    (overlay) => {
      const objects = build(`overlays/${overlay}`);
      const deployment = one(objects, 'Deployment');
      const podLabels = deployment.spec.template.metadata.labels;
      expect(matches(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
      const service = one(objects, 'Service', 'v1');
      expect(matches(service.spec.selector, podLabels)).toBe(true);
      expect(service.spec.ports[0].targetPort).toBe(
        deployment.spec.template.spec.containers[0].ports[0].name,
      );
      const hpa = one(objects, 'HorizontalPodAutoscaler');
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: deployment.metadata.name,
      });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(overlay === 'dev' ? 1 : 2);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      expect(hpa.spec.maxReplicas).toBeLessThanOrEqual(50);
      expect(hpa.spec.metrics.map((m: K8sObject) => m.resource?.name ?? m.pods?.metric.name)).toEqual([
        'cpu',
        'modelfleet_requests_per_second',
      ]);
      const pdb = one(objects, 'PodDisruptionBudget');
      expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
      // A budget that the minimum replica count cannot satisfy would block every node drain.
      expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
      const policy = one(objects, 'NetworkPolicy');
      expect(matches(policy.spec.podSelector.matchLabels, podLabels)).toBe(true);
      expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(
        policy.spec.ingress.flatMap((rule: K8sObject) => rule.ports.map((p: K8sObject) => p.port)),
      ).toEqual([8080]);
    },
  );

  it.each([
    ['prod', { 'eks.amazonaws.com/role-arn': expect.stringMatching(/^arn:aws:iam::\d{12}:role\//) }],
    [
      'gke',
      { 'iam.gke.io/gcp-service-account': expect.stringMatching(/@[\w-]+\.iam\.gserviceaccount\.com$/) },
    ],
    ['aks', { 'azure.workload.identity/client-id': expect.stringMatching(/^[0-9a-f-]{36}$/) }],
  ])('%s: the ServiceAccount carries the workload identity the pods use', (overlay, annotations) => {
    const objects = build(`overlays/${overlay}`);
    const account = one(objects, 'ServiceAccount');
    expect(account.metadata.annotations).toEqual(annotations);
    expect(one(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe(account.metadata.name);
    if (overlay === 'aks') {
      expect(one(objects, 'Deployment').spec.template.metadata.labels['azure.workload.identity/use']).toBe(
        'true',
      );
    }
  });

  it('knative: a Knative Service splitting traffic between named revisions, and nothing it replaces', () => {
    const objects = build('overlays/knative');
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Service', 'ServiceAccount']);
    const service = one(objects, 'Service', 'serving.knative.dev/v1');
    const template = service.spec.template;
    checkContainer(template.spec.containers[0], template.spec.securityContext, template.spec.volumes);
    expect(template.spec.containers[0].envFrom[0].configMapRef.name).toBe(
      one(objects, 'ConfigMap').metadata.name,
    );
    expect(template.spec.containers[0].image).toBe('registry.example.com/modelfleet:0.2.0');
    const traffic = service.spec.traffic;
    expect(traffic.reduce((sum: number, t: K8sObject) => sum + t.percent, 0)).toBe(100);
    expect(traffic.map((t: K8sObject) => t.revisionName)).toContain(template.metadata.name);
    expect(new Set(traffic.map((t: K8sObject) => t.tag)).size).toBe(traffic.length);
    const minScale = Number(template.metadata.annotations['autoscaling.knative.dev/min-scale']);
    expect(minScale).toBeGreaterThanOrEqual(1);
    expect(Number(template.metadata.annotations['autoscaling.knative.dev/max-scale'])).toBeGreaterThan(
      minScale,
    );
  });

  it.each(['base', ...OVERLAYS.map((o) => `overlays/${o}`)])('%s: no secret in plain text', (folder) => {
    checkNoSecrets(folder);
  });
});
