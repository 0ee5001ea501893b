import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const chartDir = fileURLToPath(new URL('../iot-meter', import.meta.url));

/**
 * The third-party charts cannot be downloaded here, so renders use a copy of the chart with
 * stand-ins for them: charts of the same names that render what the real ones do for our wiring
 * (k8s-packaging.md §2) — the Services our services are pointed at — and nothing else.
 */
export function offlineChart(): string {
  const dir = mkdtempSync(join(tmpdir(), 'iot-meter-chart-'));
  cpSync(chartDir, join(dir, 'iot-meter'), { recursive: true });
  const stands = [
    ['postgresql', '17.1.0', 5432],
    ['minio', '17.0.23', 9000],
    ['influxdb2', '2.1.2', 80],
  ] as const;
  for (const [name, version, port] of stands) {
    const chart = join(dir, 'iot-meter', 'charts', name);
    mkdirSync(join(chart, 'templates'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: ${version}\n`);
    writeFileSync(
      join(chart, 'templates', 'service.yaml'),
      `apiVersion: v1
kind: Service
metadata:
  name: {{ if contains .Chart.Name .Release.Name }}{{ .Release.Name }}{{ else }}{{ .Release.Name }}-{{ .Chart.Name }}{{ end }}
  labels: {stand-in: "true"}
spec:
  ports: [{name: main, port: ${port}}]
`,
    );
  }
  return join(dir, 'iot-meter');
}

export type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
};
export type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
};
export type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    configMap?: { name: string };
    secret?: { secretName: string };
    emptyDir?: object;
  }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
};
/** The fields of the rendered objects the tests read. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    serviceName?: string;
    template?: { spec: PodSpec };
    ports?: { name: string; port: number }[];
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    endpoints?: { port: string }[];
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
  };
};

/** `helm template` of the chart with the given values files (from ci/) and --set pairs. */
export function render(
  helm: string,
  chart: string,
  options: {
    release?: string;
    values?: string[];
    set?: string[];
    setString?: string[];
    apiVersions?: string[];
    /** Values given as YAML text, after the files. */
    valuesText?: string;
  } = {},
): K8sObject[] {
  const args = ['template', options.release ?? 'iot', chart, '--namespace', 'iot'];
  for (const file of options.values ?? []) args.push('-f', join(chart, 'ci', file));
  if (options.valuesText !== undefined) {
    const file = join(mkdtempSync(join(tmpdir(), 'iot-meter-values-')), 'values.yaml');
    writeFileSync(file, options.valuesText);
    args.push('-f', file);
  }
  for (const pair of options.set ?? []) args.push('--set', pair);
  for (const pair of options.setString ?? []) args.push('--set-string', pair);
  for (const api of options.apiVersions ?? []) args.push('--api-versions', api);
  const out = execFileSync(helm, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}
