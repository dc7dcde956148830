import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root (where package.json is), from the sources or from dist/ alike. */
export const projectRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the gateway sources');
    dir = up;
  }
  return dir;
})();

export const openapiPath = path.join(projectRoot, 'openapi.yaml');
