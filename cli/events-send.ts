// Entry point of `npm run events:send`; the logic is in ./send (importable, tested in test/cli).
import { runCli } from "./common";
import { runSend } from "./send";

runCli(runSend);
