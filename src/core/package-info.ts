/** This package as users install it: its name, and the folder --vendor copies the runtime into. */
export const PACKAGE_NAME = "party-shard";
/** Beside the generated file that imports it. */
export const VENDOR_DIR = "party-shard-runtime";

/**
 * party-shard's own files, which generated files are made from: read from the installed package
 * by src/infra/package-files.ts, never from the project.
 */
export interface PackageFiles {
  /** party-shard's version, from its package.json. */
  readonly version: string;
  /** `templates/<name>.tpl`. */
  template(name: string): string;
  /** The runtime's module `src/runtime/<name>.ts`, with LF line endings. */
  runtimeModule(name: string): string;
}
