// Copies the browser libraries that public/enhance.js loads on demand (highlight.js,
// mermaid) from node_modules into public/vendor/, where cargo-leptos serves them. Run by
// npm after every install (package.json "postinstall"); the copies are not committed.
import { copyFileSync, mkdirSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "public", "vendor");
const files = [
  ["node_modules/@highlightjs/cdn-assets/highlight.min.js", "highlight.min.js"],
  ["node_modules/mermaid/dist/mermaid.min.js", "mermaid.min.js"],
];

mkdirSync(out, { recursive: true });
for (const [from, to] of files) {
  const source = path.join(root, from);
  if (!existsSync(source)) {
    console.warn(`copy-vendor: ${from} is missing; run npm install`);
    continue;
  }
  copyFileSync(source, path.join(out, to));
}
