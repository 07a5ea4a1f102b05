export * from './api/types.ts';
export { ConfigError, loadConfig, type OperatorConfig } from './config.ts';
export { generateCrd, renderCrdYaml } from './crd/generateCrd.ts';
export { type OperatorHandle, startOperator } from './operator.ts';
