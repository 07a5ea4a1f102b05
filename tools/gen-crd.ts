/** Writes crds/flashsale.dev_flashsales.yaml from the zod schema in common/src/flashsale-spec.ts. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRD_FILE, renderCrdYaml } from '../operator/src/crd/generateCrd.ts';

const root = join(import.meta.dirname, '..');
writeFileSync(join(root, CRD_FILE), renderCrdYaml());
console.log(`wrote ${CRD_FILE}`);
