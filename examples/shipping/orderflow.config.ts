// This system, as the `orderflow` command sees it: `orderflow up` runs it, and
// `orderflow replay --service shipping` / `orderflow rebuild shipping` operate it.
import { defineSystem } from "@orderflow/cli";

export default defineSystem({
  services: [{ definition: "./dist/service.js", main: "./dist/main.js" }],
});
