/**
 * Where the mock harness is, for the commands that run it as a child process (the tests' `runProgram`, the start-up
 * benchmark). A module of its own: importing programHarness.ts would run it.
 */
import { join } from "node:path";

/** Path of lab/mocks/programHarness.ts. */
export const PROGRAM_HARNESS = join(__dirname, "programHarness.ts");
