/**
 * The fix suggested for an invalid relay range stays close to what was typed: the wrong bound corrected, the right
 * one kept, never a far wider range than meant.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePortRange } from "../src/config/valueFormats";

const CASES: readonly [text: string, expected: string | { min: number; max: number }][] = [
  ["49152-65535", { min: 49152, max: 65535 }],
  ["49152-6553", 'ends below its start: 6553 looks like 65535 with a digit missing. Write "49152-65535"'],
  ["50000-6000", 'ends below its start: 6000 looks like 60000 with a digit missing. Write "50000-60000"'],
  ["60000-50000", 'is reversed. Write the lower port first: "50000-60000"'],
  ["491520-65535", 'starts above its end: 491520 looks like 49152 with a digit too many. Write "49152-65535"'],
  ["49152-655350", 'ends above 65535, the highest port. Write "49152-65535"'],
  ["50000-70000", 'ends above 65535, the highest port. Write "50000-65535"'],
  ["80-2000", 'starts below 1024 (ports below 1024 are privileged). Write "1024-2000"'],
  ["80-70000", 'starts below 1024 (ports below 1024 are privileged) and ends above 65535 (the highest port). Write "1024-65535"'],
  ["1-2", 'is outside 1024-65535 (ports below 1024 are privileged, above 65535 do not exist). Use e.g. "49152-65535"'],
  ["50000-50000", 'is empty (one port relays one allocation). Use a range such as "49152-65535"'],
  ["49152:65535", 'is not written as coturn reads it. Write "49152-65535", with a plain hyphen and no spaces'],
  ["49152 - 65535", 'is not written as coturn reads it. Write "49152-65535", with a plain hyphen and no spaces'],
  ["49152\u201365535", 'is not written as coturn reads it. Write "49152-65535", with a plain hyphen and no spaces'],
  ["49152..60000", 'is not written as coturn reads it. Write "49152-60000", with a plain hyphen and no spaces'],
  ["lots", 'is not a port range. Write it as "min-max", e.g. "49152-65535"'],
];

test(`relay ranges and the fix each gets (${CASES.length} cases)`, () => {
  for (const [text, expected] of CASES) assert.deepEqual(parsePortRange(text), expected, text);
});

test("every suggested range is itself valid", () => {
  for (const [text, expected] of CASES) {
    if (typeof expected !== "string") continue;
    const suggested = /"(\d+-\d+)"$/.exec(expected.replace(/, with a plain hyphen and no spaces$/, ""))?.[1];
    assert.ok(suggested, `${text}: a range is suggested`);
    const range = parsePortRange(suggested);
    assert.ok(typeof range !== "string", `${text}: the suggestion ${suggested} is valid`);
  }
});
