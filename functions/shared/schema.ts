// zod, as the handlers use it: zod/mini, whose schemas bundle only the checks they use, here given
// English messages (mini has none of its own). The full zod is about 440 KB minified and 70 ms to
// load; with mini a handler's bundle and its cold start shed nearly all of that.
//
// Import it for its effect, next to `import * as z from "zod/mini"`, and never re-export the
// namespace: a re-exported `z` keeps every export of zod/mini (all its locales among them) in
// the bundle.
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());
