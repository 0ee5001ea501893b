import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TestCertificates = {
  dir: string;
  /** The CA's certificate (PEM): what a client trusts. */
  caFile: string;
  /** The broker's certificate, signed by the CA, for 127.0.0.1 and localhost. */
  certFile: string;
  keyFile: string;
};

/** A CA and a server certificate it signed, made with openssl in a folder of their own. */
export function createTestCertificates(name: string): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), `iot-${name}-certs-`));
  const at = (file: string) => join(dir, file);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (file: string) => openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file);
  key('ca.key');
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
    '-out',
    'ca.crt',
  );
  key('server.key');
  openssl('req', '-new', '-key', 'server.key', '-subj', '/CN=127.0.0.1', '-out', 'server.csr');
  writeFileSync(at('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    'server.ext',
    '-out',
    'server.crt',
  );
  return { dir, caFile: at('ca.crt'), certFile: at('server.crt'), keyFile: at('server.key') };
}
