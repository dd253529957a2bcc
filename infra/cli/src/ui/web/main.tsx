// The ops page in the browser: loaded as an ES module by web/index.html, Preact from its import map.
import { render } from "preact";
import { App } from "./app.js";

render(<App />, document.getElementById("app")!);
