import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// Every package a file imports is declared by the package the file belongs to, pinned to the
// version the lock file installs. An undeclared import still resolves from the hoisted node_modules
// (through another workspace's declaration), until that workspace drops it or an image installs
// only this workspace's dependencies.
const root = fileURLToPath(new URL('..', import.meta.url));

type Manifest = {
  name: string;
  version: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
type LockEntry = { version?: string; resolved?: string; link?: boolean };

const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(root, path), 'utf8')) as T;
const rootManifest = readJson<Manifest>('package.json');
const lock = readJson<{ packages: Record<string, LockEntry> }>('package-lock.json').packages;
const workspaces = (rootManifest.workspaces ?? []).map((dir) => ({
  dir,
  manifest: readJson<Manifest>(`${dir}/package.json`),
}));

function sourceFiles(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.[cm]?ts$/.test(file) && !file.split(/[\\/]/).includes('node_modules'))
    .map((file) => join(dir, file));
}

/** The packages `file` imports (statically, dynamically or for types), by package name. */
function importedPackages(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  const packages = importedFiles
    .map(({ fileName }) => fileName)
    .filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:') && !builtinModules.includes(spec))
    .map((spec) =>
      spec
        .split('/')
        .slice(0, spec.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  return [...new Set(packages)];
}

/** The imports of `files` that `allowed` does not declare, as "file: package". */
function undeclared(files: string[], allowed: Record<string, string>): string[] {
  return files.flatMap((file) =>
    importedPackages(file)
      .filter((name) => !(name in allowed))
      .map((name) => `${relative(root, join(root, file))}: ${name}`),
  );
}

/** The version npm installs for `name` as seen from the package in `dir` ('' for the root). */
function lockedVersion(dir: string, name: string): string | undefined {
  const entry = (dir && lock[`${dir}/node_modules/${name}`]) || lock[`node_modules/${name}`];
  if (entry?.link && entry.resolved) return lock[entry.resolved]?.version;
  return entry?.version;
}

const isTestCode = (file: string) => /\.test\.ts$/.test(file) || !/[\\/]src[\\/]/.test(file);

describe('declared imports', () => {
  // The repo-wide tooling (vitest, autocannon, yaml…) is the root's, shared by every workspace's tests.
  const tooling = rootManifest.devDependencies ?? {};

  it.each(workspaces)('$dir: its running code imports only its dependencies', ({ dir, manifest }) => {
    const files = sourceFiles(`${dir}/src`).filter((file) => !isTestCode(file));
    expect(files.length).toBeGreaterThan(0);
    expect(undeclared(files, manifest.dependencies ?? {})).toEqual([]);
  });

  it.each(workspaces)(
    '$dir: its tests, benchmarks and soaks import only its own or the root’s declared packages',
    ({ dir, manifest }) => {
      const files = ['src', 'test', 'bench', 'soak']
        .flatMap((folder) => sourceFiles(`${dir}/${folder}`))
        .filter(isTestCode);
      const allowed = { ...tooling, ...manifest.dependencies, ...manifest.devDependencies };
      expect(undeclared(files, allowed)).toEqual([]);
    },
  );

  it('the root’s scripts, chart tests and config import only the root’s declared packages', () => {
    const files = [...sourceFiles('scripts'), ...sourceFiles('charts/test'), 'vitest.config.ts'];
    expect(files.length).toBeGreaterThan(2);
    const allowed = { ...rootManifest.dependencies, ...rootManifest.devDependencies };
    expect(undeclared(files, allowed)).toEqual([]);
  });

  it('every declared version is the one the lock file installs', () => {
    const mismatches = [{ dir: '', manifest: rootManifest }, ...workspaces].flatMap(({ dir, manifest }) =>
      Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })
        .filter(([name, version]) => lockedVersion(dir, name) !== version)
        .map(([name, version]) => `${dir || '.'}: ${name} ${version}, locked ${lockedVersion(dir, name)}`),
    );
    expect(mismatches).toEqual([]);
  });
});
