import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config.js';
import { StartupError, describeFsError } from '../../core/errors.js';
import { PRIVATE_FILE, writePrivateFile } from './jsonl-file.js';

export const PRIVATE_DIR = 0o700;

/** The conversations kept for sessions on stateless providers, one file per session. */
export const conversationsDir = (dataDir: string) => path.join(dataDir, 'conversations');

/**
 * The gateway's directories at start. DATA_DIR, LOG_DIR and the temp directory (and the CLI's
 * config directory when it lies in DATA_DIR) are made owner-only, files an older version left
 * readable included, and each must take a write: otherwise the start is refused with a StartupError
 * that names the directory and the cause, rather than answering 200 while losing the logs.
 * The workspace is only created: it holds the user's files, with the user's umask.
 */
export function prepareDirectories(config: Config, warn: (message: string) => void): void {
  const owned: [string, string][] = [
    ['DATA_DIR', config.dataDir],
    ['LOG_DIR', config.logDir],
    ['the temp directory', config.tmpDir],
    // After DATA_DIR, its parent.
    ['the conversations directory', conversationsDir(config.dataDir)],
  ];
  for (const [name, dir] of owned) {
    makeDir(name, dir, PRIVATE_DIR);
    probeWritable(name, dir);
    tighten(name, dir, warn);
  }
  makeDir('CLAUDE_WORKDIR', config.workdir);
  const privateConfig = isInside(config.claudeConfigDir, config.dataDir);
  makeDir('CLAUDE_CONFIG_DIR', config.claudeConfigDir, privateConfig ? PRIVATE_DIR : undefined);
  if (privateConfig) tighten('CLAUDE_CONFIG_DIR', config.claudeConfigDir, warn, false);
}

/** Creates the missing components one by one, so a failure names its real cause (not ENOENT). */
function makeDir(name: string, dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StartupError(`${name} ${dir} could not be created: ${describeFsError(err)}`);
      }
    }
  }
}

/** Creates and removes a file: the one test that sees read-only mounts, full disks and permissions alike. */
function probeWritable(name: string, dir: string): void {
  const probe = path.join(dir, `.write-probe-${process.pid}`);
  try {
    writePrivateFile(probe, 'probe', 'w');
    rmSync(probe);
  } catch (err) {
    throw new StartupError(`${name} ${dir} is not writable: ${describeFsError(err)}`);
  }
}

/** 0700 for the directory, 0600 for the files in it; one the gateway does not own stays as it is, with a warning. */
function tighten(name: string, dir: string, warn: (message: string) => void, files = true): void {
  const targets: [string, number][] = [[dir, PRIVATE_DIR]];
  if (files) {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isFile()) targets.push([path.join(dir, e.name), PRIVATE_FILE]);
  }
  for (const [target, mode] of targets) {
    try {
      chmodSync(target, mode);
    } catch (err) {
      warn(`${name}: could not make ${target} owner-only: ${describeFsError(err)}`);
    }
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
