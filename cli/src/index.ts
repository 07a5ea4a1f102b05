/** What other workspaces (bench, tests) use of the CLI: the commands as functions. */
export { CliError, EXIT } from './exit.ts';
export { type LoadRun, runLoadCommand } from './load/load.ts';
export { LOAD_DEFAULTS, type LoadOptions, loadOptionsSchema } from './load/options.ts';
export type { LoadReport } from './load/report.ts';
export { loadManifest, ManifestError, parseManifest, validateManifest } from './manifest.ts';
export { snapshot as statusSnapshot } from './status.ts';
export { cleanupSale, prepareSale, REPO_ROOT, startUp, type UpHandle, type UpOptions } from './up.ts';
