// rules_cli.mjs - runs the web client's form rules (web/src/rules.js) on
// cases given as JSON on stdin and prints their verdicts as JSON, so that
// tests/integration/test_web_rules.py can hold them against the API's own
// answers for the same values.
//
//   echo '[{"rule":"link","args":["http://x/"]}]' | node rules_cli.mjs
//   -> ["", …]    ("" when the rule accepts the value, its message if not)

import {readFileSync} from "node:fs";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const rules = await import(pathToFileURL(
  path.join(here, "..", "..", "web", "src", "rules.js")).href);

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map(({rule, args}) => {
  if (typeof rules[rule] !== "function") throw new Error("no rule " + rule);
  return rules[rule](...args);
});
process.stdout.write(JSON.stringify(out));
