// Writes schemas/<ce-type>.json and asyncapi.yaml; removes schemas of dropped versions.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { contractsDir, SCHEMAS_DIR, schemaFiles } from "./schema-files.js";

const files = schemaFiles();
mkdirSync(join(contractsDir, SCHEMAS_DIR), { recursive: true });
const wanted = new Set(files.map((f) => f.path));
for (const name of readdirSync(join(contractsDir, SCHEMAS_DIR))) {
  if (!wanted.has(`${SCHEMAS_DIR}/${name}`)) rmSync(join(contractsDir, SCHEMAS_DIR, name));
}
for (const file of files) writeFileSync(join(contractsDir, file.path), file.content);
console.log(`wrote ${files.length} files under ${contractsDir}`);
