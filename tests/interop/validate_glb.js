// Runs the Khronos glTF validator (npm "gltf-validator") on every .glb under a folder and prints
// one JSON line: [{file, errors, warnings, messages}] (messages: the first few error/warning codes).
// Usage: node validate_glb.js NODE_MODULES_DIR FOLDER
const fs = require("fs");
const path = require("path");
const validator = require(path.resolve(process.argv[2], "gltf-validator"));

function glbs(folder) {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return glbs(full);
    return entry.name.endsWith(".glb") ? [full] : [];
  });
}

async function main() {
  const results = [];
  for (const file of glbs(process.argv[3])) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
      uri: file,
      maxIssues: 50,
      externalResourceFunction: () => Promise.reject(new Error("no external resources")),
    });
    const messages = report.issues.messages
      .filter((m) => m.severity <= 1)
      .slice(0, 5)
      .map((m) => `${m.code} ${m.pointer || ""}: ${m.message}`);
    results.push({ file, errors: report.issues.numErrors, warnings: report.issues.numWarnings, messages });
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
