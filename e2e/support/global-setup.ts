// Placeholder until the harness lands: provides no services.
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject) {
  project.provide('services', {});
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: import('../../tools/harness/src/types.ts').ServiceEndpoints;
  }
}
