// Entry point of `npm run events:verify`; the logic is in ./verify (importable, tested in test/cli).
import { runCli } from "./common";
import { runVerify } from "./verify";

runCli(runVerify);
