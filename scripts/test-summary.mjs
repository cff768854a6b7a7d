// Reads jest's --json results of CI's test passes and prints one closing line for the whole run,
// in the plain form any reader of a CI log understands: "tests: N passed, N failed, N skipped".
// jest's own summary ("Tests: N passed, N total") names no failures when there are none, so a log
// reader looking for a passed-and-failed line would find none; this line is the run's count.
// Exits 1 when a pass wrote no results or when no test ran at all.
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/test-summary.mjs RESULTS.json [RESULTS.json ...]");
  process.exit(2);
}
let passed = 0;
let failed = 0;
let skipped = 0;
let status = 0;
for (const file of files) {
  let results;
  try {
    results = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    console.error(`test summary: no results in ${file}: ${error.message}`);
    status = 1;
    continue;
  }
  const pending = results.numPendingTests + results.numTodoTests;
  console.log(`test summary: ${file}: ${results.numTotalTestSuites} suites, ${results.numPassedTests} tests passed, ${results.numFailedTests} failed, ${pending} skipped`);
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  skipped += pending;
  if (!results.success) status = 1;
}
if (passed + failed === 0) {
  console.error("test summary: no test ran");
  status = 1;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status);
