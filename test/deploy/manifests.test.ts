/**
 * The deployment files (Dockerfile, compose.yaml, deploy/k8s) checked with what runs on
 * a machine without a container engine: a strict YAML parse, the Kubernetes OpenAPI
 * schemas that `kubernetes-models` ships (validated offline), `docker compose config`
 * / `docker-compose config` when either is installed (.ci/run installs Debian's
 * docker-compose), and the invariants Bursar depends on: probes on /health and
 * /health/db, non-root, secrets from Secrets, every variable known to src/config.ts and
 * the configuration they add up to accepted by loadConfig.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Script } from 'node:vm';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  ROOT,
  SAMPLE_SECRETS,
  SECRET_VARIABLES,
  asArray,
  asRecord,
  configVariables,
  k8sFiles,
  read,
  yamlDocuments,
  type Doc,
} from './helpers.js';

const CONFIG_VARIABLES = configVariables();

/** The configuration error's list of problems, or [] when the environment is accepted. */
function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) {
      return error.problems;
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------

interface K8sObject extends Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  file: string;
}

type Validator = new (data: unknown) => { validate(): void };

/** The kubernetes-models class of an object: `kubernetes-models/<group>/<version>/<Kind>`. */
async function modelFor(apiVersion: string, kind: string): Promise<Validator> {
  const module = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, Validator | undefined>;
  const model = module[kind];
  if (!model) {
    throw new Error(`no schema for ${apiVersion} ${kind}`);
  }
  return model;
}

function loadK8s(): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const file of k8sFiles()) {
    if (path.basename(file) === 'kustomization.yaml') {
      continue;
    }
    for (const doc of yamlDocuments(file)) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      assert.equal(typeof doc.kind, 'string', `${file}: kind`);
      assert.equal(typeof asRecord(doc.metadata, `${file} metadata`).name, 'string', `${file}: metadata.name`);
      objects.push({ ...doc, file } as K8sObject);
    }
  }
  return objects;
}

const k8s = loadK8s();
const byKind = (kind: string) => k8s.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => {
  const found = k8s.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name} exists`);
  return found;
};

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; runAsUser?: number; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number };
  volumes?: { name: string; emptyDir?: unknown }[];
  restartPolicy?: string;
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

const templateOf = (o: K8sObject): PodTemplate => {
  const spec = asRecord(o.spec, `${o.kind}/${o.metadata.name} spec`);
  return spec.template as PodTemplate;
};
const workloads = () => [...byKind('Deployment'), ...byKind('Job')];

/** Every variable a container gets, with where it comes from. */
function containerEnv(container: Container): Map<string, 'value' | 'secret' | 'configmap'> {
  const env = new Map<string, 'value' | 'secret' | 'configmap'>();
  for (const from of container.envFrom ?? []) {
    assert.ok(!from.secretRef, 'secrets are mounted key by key (secretKeyRef), so each one is visible here');
    if (from.configMapRef) {
      const map = named('ConfigMap', from.configMapRef.name);
      for (const key of Object.keys(asRecord(map.data, 'configmap data'))) {
        env.set(key, 'configmap');
      }
    }
  }
  for (const variable of container.env ?? []) {
    env.set(variable.name, variable.valueFrom?.secretKeyRef ? 'secret' : variable.valueFrom?.configMapKeyRef ? 'configmap' : 'value');
  }
  return env;
}

/** The environment a container would start with, secrets replaced by valid samples. */
function resolvedEnv(container: Container, secretValue: (key: string) => string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      Object.assign(env, asRecord(named('ConfigMap', from.configMapRef.name).data, 'data'));
    }
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    const value = ref ? secretValue(ref.key) : variable.value;
    if (value !== undefined) {
      env[variable.name] = value;
    }
  }
  return env;
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  test('the expected objects are there', () => {
    const kinds = k8s.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    for (const expected of [
      'ConfigMap/bursar-config',
      'Deployment/bursar-api',
      'Deployment/bursar-worker',
      'HorizontalPodAutoscaler/bursar-api',
      'Job/bursar-migrate',
      'Namespace/bursar',
      'Secret/bursar-secrets',
      'Service/bursar-api',
    ]) {
      assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(', ')}`);
    }
  });

  test('every object is valid against the Kubernetes OpenAPI schema (kubernetes-models)', async () => {
    for (const object of k8s) {
      const { file: _file, ...data } = object;
      const Model = await modelFor(object.apiVersion, object.kind);
      assert.doesNotThrow(() => new Model(data).validate(), `${object.file}: ${object.kind}/${object.metadata.name}`);
    }
  });

  test('the schema check is live: a broken Deployment is refused', async () => {
    const api = structuredClone(named('Deployment', 'bursar-api')) as Doc;
    delete api.file;
    const Model = await modelFor('apps/v1', 'Deployment');
    const broken = structuredClone(api) as { spec: { template: PodTemplate } };
    const port = broken.spec.template.spec.containers[0]?.ports?.[0];
    assert.ok(port);
    (port as { containerPort: unknown }).containerPort = 'three thousand';
    assert.throws(() => new Model(broken).validate(), /containerPort/);
    const noSelector = structuredClone(api) as { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    assert.throws(() => new Model(noSelector).validate(), /selector/);
  });

  test('everything lives in the bursar namespace, and kustomization lists every manifest but the secret', () => {
    for (const object of k8s) {
      if (object.kind !== 'Namespace') {
        assert.equal(object.metadata.namespace, 'bursar', `${object.kind}/${object.metadata.name}`);
      }
    }
    const [kustomization] = yamlDocuments('deploy/k8s/kustomization.yaml');
    assert.ok(kustomization);
    assert.equal(kustomization.kind, 'Kustomization');
    assert.equal(kustomization.namespace, 'bursar');
    const resources = asArray(kustomization.resources, 'resources') as string[];
    for (const resource of resources) {
      assert.ok(existsSync(path.join(ROOT, 'deploy', 'k8s', resource)), `${resource} exists`);
    }
    const manifests = new Set(k8s.map((o) => path.basename(o.file)));
    assert.deepEqual([...manifests].filter((f) => !resources.includes(f)), ['secret.yaml'], 'only the placeholder secret is left out');
    const images = asArray(kustomization.images, 'images') as { name: string }[];
    const used = new Set(workloads().flatMap((w) => templateOf(w).spec.containers.map((c) => c.image.split(':')[0])));
    assert.deepEqual([...used], ['bursar'], 'every workload runs the one bursar image');
    assert.ok(images.some((i) => i.name === 'bursar'), 'kustomization sets the bursar image');
  });

  test('each workload runs the CLI command of its role', () => {
    const commands = Object.fromEntries(
      workloads().map((w) => {
        const [container, ...more] = templateOf(w).spec.containers;
        assert.ok(container && more.length === 0, `${w.metadata.name}: one container`);
        assert.equal(container.command, undefined, `${w.metadata.name}: the image's entrypoint (bursar CLI) is kept`);
        return [w.metadata.name, container.args];
      }),
    );
    assert.deepEqual(commands, { 'bursar-api': ['api'], 'bursar-worker': ['worker'], 'bursar-migrate': ['migrate'] });
    const job = named('Job', 'bursar-migrate');
    assert.equal(templateOf(job).spec.restartPolicy, 'Never');
  });

  test('probes: liveness on /health, readiness on /health/db, on a declared port', () => {
    for (const name of ['bursar-api', 'bursar-worker']) {
      const [container] = templateOf(named('Deployment', name)).spec.containers;
      assert.ok(container);
      assert.equal(container.livenessProbe?.httpGet?.path, '/health', `${name} liveness`);
      assert.equal(container.readinessProbe?.httpGet?.path, '/health/db', `${name} readiness`);
      assert.equal(container.startupProbe?.httpGet?.path ?? '/health', '/health', `${name} startup`);
      const ports = container.ports ?? [];
      for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
        const port = probe?.httpGet?.port;
        if (port !== undefined) {
          assert.ok(ports.some((p) => p.name === port || p.containerPort === port), `${name}: probe port ${port} is declared`);
        }
      }
      assert.ok(ports.some((p) => p.containerPort === 3000), `${name} listens on 3000 (PORT)`);
    }
  });

  test('pods run as non-root with a read-only root file system and a writable /tmp', () => {
    for (const workload of workloads()) {
      const spec = templateOf(workload).spec;
      const name = workload.metadata.name;
      assert.equal(spec.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
      assert.ok((spec.securityContext?.runAsUser ?? 0) > 0, `${name}: runAsUser is not root`);
      for (const container of spec.containers) {
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${name}: allowPrivilegeEscalation`);
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${name}: readOnlyRootFilesystem`);
        assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], `${name}: drops every capability`);
        // tsx caches compiled modules under os.tmpdir(); nothing else is written with DATABASE_URL set.
        const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
        assert.ok(tmp, `${name}: /tmp is mounted`);
        assert.ok(spec.volumes?.find((v) => v.name === tmp.name)?.emptyDir, `${name}: /tmp is an emptyDir`);
        assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory, `${name}: cpu and memory requests`);
        assert.ok(container.resources.limits?.memory, `${name}: a memory limit`);
      }
    }
  });

  test('every variable is one src/config.ts knows, and secrets come from the Secret', () => {
    const secret = named('Secret', 'bursar-secrets');
    const secretKeys = new Set(Object.keys(asRecord(secret.stringData ?? secret.data, 'secret data')));
    const config = asRecord(named('ConfigMap', 'bursar-config').data, 'configmap data');
    for (const key of Object.keys(config)) {
      assert.ok(CONFIG_VARIABLES.has(key), `configmap ${key} is a Bursar variable`);
      assert.ok(!SECRET_VARIABLES.includes(key), `configmap holds no secret (${key})`);
    }
    for (const key of secretKeys) {
      assert.ok(CONFIG_VARIABLES.has(key), `secret ${key} is a Bursar variable`);
    }
    for (const workload of workloads()) {
      for (const container of templateOf(workload).spec.containers) {
        const env = containerEnv(container);
        for (const [name, source] of env) {
          assert.ok(CONFIG_VARIABLES.has(name), `${workload.metadata.name}: ${name} is a variable of src/config.ts`);
          if (SECRET_VARIABLES.includes(name)) {
            assert.equal(source, 'secret', `${workload.metadata.name}: ${name} comes from a Secret`);
          }
        }
        assert.equal(env.get('JWT_SECRET'), 'secret', `${workload.metadata.name}: JWT_SECRET from the Secret`);
        assert.equal(env.get('DATABASE_URL'), 'secret', `${workload.metadata.name}: DATABASE_URL from the Secret`);
        for (const variable of container.env ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (ref) {
            assert.equal(ref.name, 'bursar-secrets');
            assert.ok(secretKeys.has(ref.key), `${workload.metadata.name}: secret key ${ref.key} is documented in secret.yaml`);
          }
        }
      }
    }
    const [api] = templateOf(named('Deployment', 'bursar-api')).spec.containers;
    const [worker] = templateOf(named('Deployment', 'bursar-worker')).spec.containers;
    assert.equal(api?.env?.find((e) => e.name === 'SYNC')?.value, 'off', 'the api does not run the sync');
    assert.equal(worker?.env?.find((e) => e.name === 'SYNC')?.value, 'on', 'the worker runs the sync');
  });

  test('with real secrets each workload starts with a valid production configuration', () => {
    for (const workload of workloads()) {
      for (const container of templateOf(workload).spec.containers) {
        const env = resolvedEnv(container, (key) => SAMPLE_SECRETS[key]);
        assert.deepEqual(configProblems(env), [], `${workload.metadata.name}`);
        const config = loadConfig(env);
        assert.equal(config.env, 'production');
        assert.equal(config.host, '0.0.0.0');
        assert.equal(config.port, 3000);
        assert.equal(config.simulator.enabled, false);
      }
    }
  });

  test('the committed secret holds placeholders that refuse to boot', () => {
    const secret = asRecord(named('Secret', 'bursar-secrets').stringData, 'stringData') as Record<string, string>;
    const [api] = templateOf(named('Deployment', 'bursar-api')).spec.containers;
    assert.ok(api);
    const problems = configProblems(resolvedEnv(api, (key) => secret[key])).join('\n');
    for (const variable of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'SEED_PASSWORD']) {
      assert.match(problems, new RegExp(`\\b${variable}\\b`), `${variable} placeholder is rejected`);
    }
    assert.doesNotMatch(problems, /REPLACE/, 'secret values are never echoed');
  });

  test('Service, HPA and PodDisruptionBudgets select the api pods', () => {
    const labels = templateOf(named('Deployment', 'bursar-api')).metadata?.labels ?? {};
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    const service = asRecord(named('Service', 'bursar-api').spec, 'service spec') as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
    assert.ok(selects(service.selector), 'service selector');
    const [container] = templateOf(named('Deployment', 'bursar-api')).spec.containers;
    for (const port of service.ports) {
      assert.ok(container?.ports?.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort), `service targetPort ${port.targetPort}`);
    }
    const hpa = asRecord(named('HorizontalPodAutoscaler', 'bursar-api').spec, 'hpa spec') as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: { type: string; resource?: { name: string } }[];
    };
    assert.deepEqual([hpa.scaleTargetRef.kind, hpa.scaleTargetRef.name], ['Deployment', 'bursar-api']);
    assert.ok(hpa.minReplicas >= 2 && hpa.maxReplicas > hpa.minReplicas);
    assert.ok(hpa.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'), 'scales on CPU');
    assert.ok(container?.resources?.requests?.cpu, 'CPU utilisation needs a CPU request');
    const pool = Number(asRecord(named('ConfigMap', 'bursar-config').data, 'data').DATABASE_POOL_MAX);
    const workers = Number((named('Deployment', 'bursar-worker').spec as { replicas: number }).replicas);
    assert.ok((hpa.maxReplicas + workers + 1) * pool <= 200, 'all pods at full scale fit in 200 PostgreSQL connections');
    for (const pdb of byKind('PodDisruptionBudget')) {
      const selector = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      const target = workloads().find((w) => {
        const podLabels = templateOf(w).metadata?.labels ?? {};
        return Object.entries(selector).every(([k, v]) => podLabels[k] === v);
      });
      assert.ok(target, `PodDisruptionBudget/${pdb.metadata.name} selects a workload`);
    }
  });
});

// ---------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? '';

  test('multi-stage: a build stage, then a runtime stage on the same slim Node 20 base', () => {
    assert.ok(stages.length >= 2, 'at least two stages');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-[a-z]+-slim$/m);
    assert.match(stages[0] ?? '', /^\$\{NODE_IMAGE\} AS build/);
    assert.match(stages[0] ?? '', /npm ci/);
    assert.match(stages[0] ?? '', /npm run build:web/);
    assert.match(stages[0] ?? '', /npm prune --omit=dev/);
    assert.match(final, /^\$\{NODE_IMAGE\} AS runtime/);
    assert.doesNotMatch(final, /npm (ci|install)/, 'the runtime stage installs nothing');
    assert.match(final, /COPY --from=build [^\n]*\/app\/node_modules/);
    assert.match(final, /COPY --from=build [^\n]*\/app\/web\/dist/);
  });

  test('runtime: non-root, production, all interfaces, port 3000, a /health check, the CLI as entrypoint', () => {
    const user = [...final.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    // The node image's `node` user is uid 1000, the runAsUser of the Kubernetes pods.
    assert.equal(user, 'node');
    for (const workload of workloads()) {
      assert.equal(templateOf(workload).spec.securityContext?.runAsUser, 1000, workload.metadata.name);
    }
    assert.match(final, /NODE_ENV=production/);
    assert.match(final, /HOST=0\.0\.0\.0/);
    assert.match(final, /^EXPOSE 3000$/m);
    const healthcheck = /^HEALTHCHECK (?:[^\n]*\\\n)*[^\n]*/m.exec(final)?.[0] ?? '';
    assert.match(healthcheck, /CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:'\+\(process\.env\.PORT\|\|3000\)\+'\/health'\)/);
    const instructions = final.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
    assert.doesNotMatch(instructions, /curl|wget/, 'no HTTP client is installed for the check');
    assert.match(final, /^ENTRYPOINT \["node", "--import", "tsx", "src\/cli\.ts"\]$/m);
    assert.match(final, /^CMD \["api"\]$/m);
  });

  test('the HEALTHCHECK command is valid JavaScript', () => {
    const command = /HEALTHCHECK [\s\S]*?CMD (\[[^\n]*\])/.exec(final)?.[1];
    assert.ok(command);
    const [node, flag, script] = JSON.parse(command) as string[];
    assert.equal(node, 'node');
    assert.equal(flag, '-e');
    assert.doesNotThrow(() => new Script(script ?? '', { filename: 'HEALTHCHECK' }));
    assert.match(script ?? '', /process\.exit\(r\.ok\?0:1\)/, 'exit 1 unless 2xx');
  });

  test('every copied path exists and is not excluded by .dockerignore', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const must of ['.env', '.data', '.git', '**/node_modules', 'web/dist']) {
      assert.ok(ignored.includes(must), `.dockerignore excludes ${must}`);
    }
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    assert.ok(sources.length > 0);
    for (const source of sources) {
      assert.ok(existsSync(path.join(ROOT, source)), `${source} exists`);
      assert.ok(!ignored.some((pattern) => pattern === source || source.startsWith(`${pattern}/`)), `${source} is not ignored`);
    }
  });

  test('the runtime needs no devDependency: every package src/ and the CLI scripts import is a dependency', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.ok(pkg.dependencies.tsx, 'tsx (the runtime loader) is a dependency');
    const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'scripts/migrate.ts', 'scripts/seed.ts', 'scripts/vendor.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .stdout.split('\n')
      .filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 20, 'source files found');
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    for (const file of files) {
      const source = readFileSync(path.join(ROOT, file), 'utf8');
      for (const match of source.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^'"]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/gm)) {
        const specifier = match[1] ?? match[2] ?? '';
        if (specifier.startsWith('node:') || builtins.has(specifier)) {
          continue;
        }
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '');
        if (!pkg.dependencies[name]) {
          missing.add(`${name} (${file})`);
        }
      }
    }
    assert.deepEqual([...missing], []);
  });
});

// ---------------------------------------------------------------------------------
// compose.yaml
// ---------------------------------------------------------------------------------

const COMPOSE_ENV = { POSTGRES_PASSWORD: 'compose-pg-password', JWT_SECRET: 'c'.repeat(40), SEED_PASSWORD: 'compose-seed-password' };

/** `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` as compose does it. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/g, (_all, name: string, op: string | undefined, arg: string | undefined) => {
    const set = env[name];
    if (op?.endsWith('?')) {
      if (set === undefined || (op === ':?' && set === '')) {
        throw new Error(`${name}: ${arg}`);
      }
      return set;
    }
    if (op?.endsWith('-') && (set === undefined || (op === ':-' && set === ''))) {
      return arg ?? '';
    }
    return set ?? '';
  });
}

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  ports?: string[];
  restart?: string;
}

/** Compose CLIs that can check a file without an engine: the v2 plugin, or Debian's docker-compose. */
function composeCli(): string[] | undefined {
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    const [bin, ...args] = candidate;
    const probe = spawnSync(bin ?? '', [...args, 'version'], { encoding: 'utf8' });
    if (probe.status === 0) {
      return candidate;
    }
  }
  return undefined;
}

describe('compose.yaml', () => {
  const [compose] = yamlDocuments('compose.yaml');
  assert.ok(compose);
  const services = asRecord(compose.services, 'services') as Record<string, ComposeService>;
  const bursarServices = Object.entries(services).filter(([, s]) => s.image?.includes('BURSAR_IMAGE'));

  test('postgres 16+, redis, a one-shot migrate, two api processes, a worker and the vendor simulator', () => {
    for (const name of ['postgres', 'redis', 'migrate', 'api-1', 'api-2', 'worker', 'vendor']) {
      assert.ok(services[name], `service ${name}`);
    }
    const major = Number(/^postgres:(\d+)/.exec(services.postgres?.image ?? '')?.[1]);
    assert.ok(major >= 16, `PostgreSQL ${major}`);
    assert.match(services.redis?.image ?? '', /^redis:/);
    assert.deepEqual(services.migrate?.command, ['migrate']);
    assert.equal(services.migrate?.restart, 'no');
    assert.deepEqual(services['api-1']?.command, ['api']);
    assert.deepEqual(services['api-2']?.command, ['api']);
    assert.deepEqual(services.worker?.command, ['worker']);
    assert.deepEqual(services.vendor?.entrypoint?.slice(-1), ['scripts/vendor.ts']);
    assert.deepEqual(
      bursarServices.map(([name]) => name).sort(),
      ['api-1', 'api-2', 'migrate', 'vendor', 'worker'],
      'the app services all run the one image built from the Dockerfile',
    );
    for (const [name, service] of bursarServices) {
      assert.ok(service.build, `${name} builds the image`);
    }
  });

  test('start order: migrations after a healthy database, api and worker after the migrations', () => {
    const dependsOn = (name: string) => Object.fromEntries(Object.entries(services[name]?.depends_on ?? {}).map(([k, v]) => [k, v.condition]));
    assert.equal(dependsOn('migrate').postgres, 'service_healthy');
    for (const name of ['api-1', 'api-2', 'worker']) {
      assert.equal(dependsOn(name).migrate, 'service_completed_successfully', `${name} waits for migrate`);
      assert.equal(dependsOn(name).redis, 'service_healthy', `${name} waits for redis`);
    }
    assert.equal(dependsOn('worker').vendor, 'service_healthy');
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        assert.ok(services[dependency], `${name} depends on an existing service ${dependency}`);
        if (condition === 'service_healthy') {
          const own = services[dependency]?.healthcheck;
          assert.ok(own?.test && !own.disable, `${dependency} has a healthcheck, as ${name} waits for it`);
        }
      }
    }
    for (const name of ['api-1', 'api-2']) {
      const check = (services[name]?.healthcheck?.test ?? []).join(' ');
      assert.match(check, /\/health\/db/, `${name} is healthy once its database answers`);
    }
  });

  test('secrets are required from the environment, never committed', () => {
    const text = read('compose.yaml');
    for (const variable of ['POSTGRES_PASSWORD', 'JWT_SECRET', 'SEED_PASSWORD']) {
      assert.match(text, new RegExp(`\\$\\{${variable}:\\?`), `${variable} is required (\${${variable}:?…})`);
    }
    for (const [name, service] of bursarServices) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        // A credential-free URL of a service inside the compose network is not a secret.
        if (SECRET_VARIABLES.includes(key) && !(key === 'REDIS_URL' && !String(value).includes('@'))) {
          assert.match(String(value), /\$\{[A-Z_]+(:[?-][^}]*)?\}/, `${name}: ${key} comes from the environment`);
        }
      }
    }
    assert.throws(() => interpolate(String(services['api-1']?.environment?.JWT_SECRET), {}), /JWT_SECRET/);
  });

  test('every app variable is one src/config.ts knows, and each service gets a valid configuration', () => {
    for (const [name, service] of bursarServices) {
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        assert.ok(CONFIG_VARIABLES.has(key), `${name}: ${key} is a variable of src/config.ts`);
        env[key] = interpolate(String(value ?? ''), COMPOSE_ENV);
      }
      assert.deepEqual(configProblems(env), [], name);
      const config = loadConfig(env);
      assert.equal(config.host, '0.0.0.0', `${name} listens on every interface`);
      if (name !== 'vendor') {
        assert.equal(config.env, 'production', name);
        assert.equal(config.database.url, `postgres://bursar:${COMPOSE_ENV.POSTGRES_PASSWORD}@postgres:5432/bursar`, name);
        assert.equal(config.redisUrl, 'redis://redis:6379', name);
        assert.equal(config.auth.jwtSecret, COMPOSE_ENV.JWT_SECRET, name);
      }
    }
    const sync = (name: string) => loadConfig(Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), COMPOSE_ENV)]))).sync.enabled;
    assert.equal(sync('worker'), true, 'the worker runs the sync');
    assert.equal(sync('api-1'), false, 'the api does not');
    const vendorPort = String(services.vendor?.environment?.VENDOR_SIMULATOR_PORT);
    assert.equal(interpolate(String(services.worker?.environment?.VENDOR_URL), COMPOSE_ENV), `http://vendor:${vendorPort}`, 'the worker syncs from the vendor service');
  });

  test('the compose CLI, when installed, accepts the file and resolves it as read here', (t) => {
    const cli = composeCli();
    if (!cli) {
      // .ci/run installs docker-compose; without it the checks above are the validation.
      t.diagnostic('no compose CLI on this machine: validated by the structural checks only');
      assert.ok(services.postgres);
      return;
    }
    t.diagnostic(`checking with ${cli.join(' ')}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bursar-compose-'));
    try {
      const emptyEnv = path.join(dir, 'empty.env');
      writeFileSync(emptyEnv, '');
      const [bin, ...pre] = cli;
      const run = (env: Record<string, string>) =>
        spawnSync(bin ?? '', [...pre, '--env-file', emptyEnv, '-f', path.join(ROOT, 'compose.yaml'), '--project-directory', ROOT, 'config'], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
        });
      const ok = run(COMPOSE_ENV);
      assert.equal(ok.status, 0, ok.stderr);
      const resolved = parseYaml(ok.stdout) as { services: Record<string, ComposeService> };
      assert.equal(resolved.services['api-2']?.environment?.JWT_SECRET, COMPOSE_ENV.JWT_SECRET, 'anchors and merges resolve');
      assert.equal(resolved.services.worker?.environment?.SYNC, 'on');
      assert.deepEqual(Object.keys(resolved.services).sort(), Object.keys(services).sort());
      const missing = run({ POSTGRES_PASSWORD: 'x', SEED_PASSWORD: 'y'.repeat(10) });
      assert.notEqual(missing.status, 0, 'refused without JWT_SECRET');
      assert.match(missing.stderr, /JWT_SECRET/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
