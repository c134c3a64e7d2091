// Creates a self-signed certificate for 127.0.0.1/localhost with the openssl CLI, for https test servers
// (NuGet requires https for RepositorySignatures, and .NET 9+ refuses http sources by default).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificate {
  /** PEM certificate; pass it as `ca` to clients that should trust it. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
}

export function createSelfSignedCertificate(commonName = 'localhost'): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'nuget-proxy-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '7',
        '-keyout', keyPath, '-out', certPath,
        '-subj', `/CN=${commonName}`,
        '-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
