import { execFileSync } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { startStandardFakeUpstream } from './fake-upstream.ts';
import { createSelfSignedCertificate } from './tls.ts';
const fake = await startStandardFakeUpstream({ tls: createSelfSignedCertificate(), port: 5565, searchPort: 5566 });
rmSync('/tmp/rt/pkgs', { recursive: true, force: true }); rmSync('/tmp/rt/home', { recursive: true, force: true }); rmSync('/tmp/rt/proj/obj', { recursive: true, force: true }); mkdirSync('/tmp/rt/home');
try {
  execFileSync('dotnet', ['restore'], { cwd: '/tmp/rt/proj', env: { ...process.env, HOME: '/tmp/rt/home', NUGET_PACKAGES: '/tmp/rt/pkgs', DOTNET_CLI_TELEMETRY_OPTOUT: '1' }, stdio: 'ignore' });
} finally {
  const paths = fake.requests().map((r) => `${r.status} ${r.path} ${r.headers['user-agent']}`);
  console.log(paths.filter((p) => !p.includes('flatcontainer')).join('\n'), '\n total', paths.length);
  await fake.stop();
}
