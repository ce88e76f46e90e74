// The deployment files (deploy/): the health probe against a real server in this process, the systemd unit
// (systemd-analyze verify where systemd is installed) and the container recipe, checked against the
// `edgeinfer serve` flags they use. (No container is built here: that needs a Docker daemon and a registry.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createServer, type InferenceServer } from '../lib';
import { createProgram } from '../lib/cli/main';
import { fetchModels, repoRoot } from './helpers/repo';

const deployDir = path.join(repoRoot, 'deploy');
const probe = path.join(deployDir, 'health-probe.js');

/** Runs the probe as the container's HEALTHCHECK does (a child node); its exit code and output. */
function runProbe(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Under the arm64 emulator the child node needs the same qemu launcher as this one.
    const command = [...(process.env.EDGEINFER_NODE_LAUNCHER ?? '').split(' ').filter(Boolean), process.execPath, probe, ...args];
    const child = spawn(command[0], command.slice(1), { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The long flags `edgeinfer serve` accepts. */
function serveFlags(): Set<string> {
  const serve = createProgram().commands.find((c) => c.name() === 'serve');
  assert.ok(serve, 'no serve command');
  return new Set(serve.options.map((o) => o.long!).filter(Boolean));
}

/** The --flags in a command line (values and variables skipped). */
const flagsIn = (line: string) => [...line.matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)].map((m) => m[1]);

describe('deploy/health-probe.js against a real server', function () {
  this.timeout(60000);
  let server: InferenceServer;
  let address: string;

  before(async () => {
    server = createServer({ model: fetchModels()['alexa_v0.1.onnx'], port: 0 });
    await server.start();
    address = server.address!;
  });
  after(() => server?.shutdown({ graceMs: 500 }));

  it('exits 0 with SERVING for the server and for the Inference service', async () => {
    const all = await runProbe([address]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /SERVING/);
    const inference = await runProbe([address, '--service', 'edgeinfer.v1.Inference']);
    assert.equal(inference.code, 0, inference.stderr);
    // The address from the environment, as the container sets it.
    assert.equal((await runProbe([], { EDGEINFER_HEALTH_ADDRESS: address })).code, 0);
  });

  it('exits 1 for a service the server does not have, and 2 on a usage error', async () => {
    const unknown = await runProbe([address, '--service', 'no.such.Service']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /NOT_FOUND/);
    const usage = await runProbe([address, '--timeout-ms', 'soon']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--timeout-ms must be a positive integer/);
  });

  it('exits 1 once the server has shut down (no answer within the deadline)', async () => {
    const other = createServer({ model: fetchModels()['alexa_v0.1.onnx'], port: 0 });
    await other.start();
    const at = other.address!;
    assert.equal((await runProbe([at])).code, 0);
    await other.shutdown({ graceMs: 100 });
    const started = Date.now();
    const gone = await runProbe([at, '--timeout-ms', '1500']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /UNAVAILABLE|DEADLINE_EXCEEDED/);
    assert.ok(Date.now() - started < 10000);
  });
});

describe('deploy/systemd/edgeinfer.service', () => {
  const unitPath = path.join(deployDir, 'systemd', 'edgeinfer.service');
  const unit = fs.readFileSync(unitPath, 'utf8');
  const env = fs.readFileSync(path.join(deployDir, 'systemd', 'edgeinfer.env'), 'utf8');
  const value = (text: string, key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

  it('runs `edgeinfer serve` sandboxed, restarted on failure, with its config file and a loopback bind', () => {
    for (const [key, expected] of Object.entries({ DynamicUser: 'yes', NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', Restart: 'on-failure', KillSignal: 'SIGTERM' })) {
      assert.deepEqual(value(unit, key), [expected], key);
    }
    assert.deepEqual(value(unit, 'CapabilityBoundingSet'), ['']);
    assert.deepEqual(value(unit, 'EnvironmentFile'), ['/etc/edgeinfer/edgeinfer.env']);
    assert.deepEqual(value(env, 'EDGEINFER_HOST'), ['127.0.0.1']);
    const exec = value(unit, 'ExecStart')[0];
    assert.match(exec, /edgeinfer serve \$\{EDGEINFER_MODEL\} --host \$\{EDGEINFER_HOST\}/);
    // The stop timeout leaves room for the grace period the server is given.
    assert.ok(Number(value(env, 'EDGEINFER_GRACE_MS')[0]) < Number(value(unit, 'TimeoutStopSec')[0]) * 1000);
  });

  it('uses only flags `edgeinfer serve` has (ExecStart and EDGEINFER_SERVE_ARGS)', () => {
    const known = serveFlags();
    const used = [...flagsIn(value(unit, 'ExecStart')[0]), ...flagsIn(value(env, 'EDGEINFER_SERVE_ARGS')[0])];
    assert.ok(used.length >= 6, used.join(' '));
    for (const flag of used) assert.ok(known.has(flag), `${flag} is not an option of edgeinfer serve (${[...known].join(' ')})`);
  });

  it('passes systemd-analyze verify (where systemd is installed); a broken copy does not', function () {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) this.skip();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-unit-'));
    try {
      // verify checks that ExecStart's program exists: point it at one that does (edgeinfer is not installed here).
      const runnable = unit.replace('/usr/local/bin/edgeinfer', '/bin/true');
      fs.writeFileSync(path.join(dir, 'edgeinfer.service'), runnable);
      const ok = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, 'edgeinfer.service')], { encoding: 'utf8' });
      assert.equal(`${ok.stderr}${ok.stdout}`.split('\n').filter((l) => /edgeinfer\.service/.test(l)).join('\n'), '');
      assert.equal(ok.status, 0);
      fs.writeFileSync(path.join(dir, 'broken.service'), runnable.replace('Restart=on-failure', 'Restart=sometimes').replace('DynamicUser=yes', 'DynamicUsr=yes'));
      const broken = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, 'broken.service')], { encoding: 'utf8' });
      assert.match(`${broken.stderr}${broken.stdout}`, /restart specifier|Unknown key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/container/Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(deployDir, 'container', 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));
  const of = (name: string) => instructions.filter((l) => l.startsWith(`${name} `));

  it('is multi-stage on node:20-bookworm-slim and runs as a non-root user', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.deepEqual(of('FROM'), ['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE}']);
    const user = of('USER');
    assert.equal(user.length, 1);
    assert.match(user[0], /^USER [1-9]\d*:[1-9]\d*$/);
    // The user switch comes after the last RUN (nothing installed as that user).
    assert.ok(instructions.lastIndexOf(user[0]) > instructions.map((l) => l.startsWith('RUN ')).lastIndexOf(true));
  });

  it('checks health with the grpc.health.v1 probe it copies in', () => {
    assert.match(dockerfile, /HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "\/app\/health-probe.js"\]/);
    assert.ok(of('COPY').some((l) => l.includes('deploy/health-probe.js')));
  });

  it('copies only files that exist and that its ignore file lets into the context', () => {
    const ignore = fs.readFileSync(path.join(deployDir, 'container', 'Dockerfile.dockerignore'), 'utf8');
    const allowed = ignore.split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    for (const line of of('COPY').filter((l) => !l.includes('--from='))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources) {
        assert.ok(allowed.includes(source), `${source} is excluded by Dockerfile.dockerignore`);
        if (!source.includes('*')) assert.ok(fs.existsSync(path.join(repoRoot, source)), `${source} does not exist`);
      }
    }
  });

  it('starts `edgeinfer serve` with flags it has', () => {
    const cmd = JSON.parse(of('CMD').at(-1)!.slice(4)) as string[];
    assert.deepEqual(JSON.parse(of('ENTRYPOINT')[0].slice(11)), ['edgeinfer', 'serve']);
    const known = serveFlags();
    for (const flag of cmd.filter((a) => a.startsWith('--'))) assert.ok(known.has(flag), flag);
    assert.equal(cmd[cmd.indexOf('--port') + 1], '50051');
    assert.match(dockerfile, /EXPOSE 50051/);
    assert.match(dockerfile, /EDGEINFER_HEALTH_ADDRESS=127\.0\.0\.1:50051/);
  });
});
