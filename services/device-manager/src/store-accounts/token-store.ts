import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { type ServiceTokens, TOKEN_SERVICES } from './influx-tokens.js';

/** Where the services' InfluxDB tokens are kept between runs, and where the services read them. */
export type TokenStore = {
  read: () => Promise<Partial<ServiceTokens>>;
  write: (tokens: ServiceTokens) => Promise<void>;
};

/** A file per service (`<dir>/collector.token`), as the local stack keeps them. */
export function createDirectoryTokenStore(dir: string): TokenStore {
  const file = (service: string) => join(dir, `${service}.token`);
  return {
    async read() {
      const tokens: Partial<ServiceTokens> = {};
      for (const service of TOKEN_SERVICES) {
        tokens[service] = await readFile(file(service), 'utf8').then(
          (t) => t.trim() || undefined,
          () => undefined,
        );
      }
      return tokens;
    },
    async write(tokens) {
      await mkdir(dir, { recursive: true });
      for (const service of TOKEN_SERVICES) {
        // Beside the old, then renamed over it: a reader never sees half a token.
        await writeFile(`${file(service)}.new`, tokens[service], { mode: 0o600 });
        await rename(`${file(service)}.new`, file(service));
      }
    },
  };
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
type SecretBody = { data?: Record<string, string> };
type Answer = { status: number; body: string };

/**
 * A Kubernetes Secret (`<service>-token` keys) in the pod's namespace, through the API server with
 * the pod's service account (its token, namespace and the cluster's CA); the chart's Role allows
 * this one Secret.
 */
export function createKubernetesSecretTokenStore(
  name: string,
  options: { apiUrl?: string; serviceAccountDir?: string } = {},
): TokenStore {
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT;
  const apiUrl = options.apiUrl ?? 'https://kubernetes.default.svc';
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const [token, namespace, ca] = await Promise.all(
      ['token', 'namespace', 'ca.crt'].map((file) => readFile(join(dir, file), 'utf8')),
    );
    const url = new URL(`/api/v1/namespaces/${namespace?.trim()}/secrets${path}`, apiUrl);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = https.request(
        url,
        {
          method,
          ca,
          headers: {
            authorization: `Bearer ${token?.trim()}`,
            'content-type': 'application/json',
            ...(payload !== undefined && { 'content-length': Buffer.byteLength(payload) }),
          },
          timeout: 10_000,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('Kubernetes API timed out')));
      request.on('error', reject);
      request.end(payload);
    });
  };
  const fail = (what: string, answer: Answer) =>
    new Error(`Kubernetes: ${what} Secret ${name} answered ${answer.status}: ${answer.body}`);
  const ok = (answer: Answer) => answer.status >= 200 && answer.status < 300;
  return {
    async read() {
      const answer = await call('GET', `/${name}`);
      if (answer.status === 404) return {};
      if (!ok(answer)) throw fail('reading', answer);
      const { data = {} } = JSON.parse(answer.body) as SecretBody;
      const tokens: Partial<ServiceTokens> = {};
      for (const service of TOKEN_SERVICES) {
        const value = data[`${service}-token`];
        if (value) tokens[service] = Buffer.from(value, 'base64').toString('utf8');
      }
      return tokens;
    },
    async write(tokens) {
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, labels: { 'app.kubernetes.io/part-of': 'iot-meter' } },
        type: 'Opaque',
        stringData: Object.fromEntries(TOKEN_SERVICES.map((s) => [`${s}-token`, tokens[s]])),
      };
      const replaced = await call('PUT', `/${name}`, secret);
      if (ok(replaced)) return;
      if (replaced.status !== 404) throw fail('replacing', replaced);
      const created = await call('POST', '', secret);
      if (!ok(created)) throw fail('creating', created);
    },
  };
}
