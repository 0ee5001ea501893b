import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@iot-meter/common/testing';

/**
 * A real Kubernetes control plane on loopback, without containers: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler (built by stack.sh), with kwok standing in for the
 * kubelets of fake nodes — pods are scheduled and reported Running and Ready, Jobs' pods complete,
 * but nothing runs. Enough for helm install --wait, upgrade, rollback and uninstall.
 */
export class ControlPlane {
  readonly dir = mkdtempSync(join(tmpdir(), 'iot-meter-kube-'));
  readonly kubeconfig = join(this.dir, 'kubeconfig');
  private readonly processes: ChildProcess[] = [];

  constructor(
    private readonly env: Record<string, string>,
    private readonly port = 16_443,
  ) {}

  async start(): Promise<void> {
    const bin = (name: string) => join(this.env.KUBERNETES_BIN_DIR ?? '', name);
    const d = this.dir;
    const logs = `(logs in ${d}/logs)`;
    execFileSync('openssl', ['genrsa', '-out', join(d, 'sa.key'), '2048'], { stdio: 'ignore' });
    execFileSync('openssl', ['rsa', '-in', join(d, 'sa.key'), '-pubout', '-out', join(d, 'sa.pub')], {
      stdio: 'ignore',
    });
    writeFileSync(join(d, 'tokens.csv'), 'iot-meter-admin-token,admin,admin,system:masters\n');
    writeFileSync(
      this.kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:${this.port}", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: iot-meter-admin-token}}]
contexts: [{name: local, context: {cluster: local, user: admin}}]
current-context: local
`,
    );
    const etcdClient = `http://127.0.0.1:${this.port - 4064}`;
    const etcdPeer = `http://127.0.0.1:${this.port - 4063}`;
    this.run('etcd', this.env.ETCD_BIN ?? '', [
      `--data-dir=${join(d, 'etcd')}`,
      `--listen-client-urls=${etcdClient}`,
      `--advertise-client-urls=${etcdClient}`,
      `--listen-peer-urls=${etcdPeer}`,
      `--initial-advertise-peer-urls=${etcdPeer}`,
      `--initial-cluster=default=${etcdPeer}`,
    ]);
    this.run('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=${etcdClient}`,
      `--secure-port=${this.port}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--cert-dir=${join(d, 'certs')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      `--service-account-key-file=${join(d, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(d, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--token-auth-file=${join(d, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
    ]);
    await waitFor(() => this.kubectlOk(['get', '--raw', '/readyz']), `kube-apiserver ${logs}`, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    const component = [
      `--kubeconfig=${this.kubeconfig}`,
      `--authentication-kubeconfig=${this.kubeconfig}`,
      `--authorization-kubeconfig=${this.kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
    ];
    this.run('kube-controller-manager', bin('kube-controller-manager'), [
      ...component,
      `--secure-port=${this.port + 1}`,
      `--service-account-private-key-file=${join(d, 'sa.key')}`,
      `--root-ca-file=${join(d, 'certs', 'apiserver.crt')}`,
      // No cloud, no pod network: the controllers for those stay off.
      '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
    ]);
    this.run('kube-scheduler', bin('kube-scheduler'), [...component, `--secure-port=${this.port + 2}`]);
    this.run('kwok', this.env.KWOK_BIN ?? '', [
      `--kubeconfig=${this.kubeconfig}`,
      `--config=${this.env.KWOK_STAGES}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--manage-single-node=',
      '--cidr=10.0.0.0/24',
      '--node-ip=10.0.0.1',
      '--node-lease-duration-seconds=40',
    ]);
    this.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
`,
    });
    // Ready, and untainted by the node lifecycle controller: pods can be scheduled.
    await waitFor(
      () =>
        this.kubectl([
          'get',
          'node',
          'kwok-node-0',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints}',
        ]).trim() === 'True',
      `a ready node ${logs}`,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  }

  kubectl(args: string[], options: { input?: string } = {}): string {
    return execFileSync(
      join(this.env.KUBERNETES_BIN_DIR ?? '', 'kubectl'),
      ['--kubeconfig', this.kubeconfig, ...args],
      {
        encoding: 'utf8',
        input: options.input,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
  }

  /** Stops everything: SIGTERM, then SIGKILL after 5 s (kube-apiserver drains for a minute otherwise). */
  async stop(): Promise<void> {
    const exited = this.processes.map((c) =>
      c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined,
    );
    for (const child of [...this.processes].reverse()) child.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const child of this.processes) child.kill('SIGKILL');
    }, 5000);
    await Promise.all(exited);
    clearTimeout(killer);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private kubectlOk(args: string[]): boolean {
    try {
      this.kubectl(args);
      return true;
    } catch {
      return false;
    }
  }

  private run(name: string, binary: string, args: string[]) {
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const log = createWriteStream(join(this.dir, 'logs', `${name}.log`));
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.processes.push(child);
  }
}
