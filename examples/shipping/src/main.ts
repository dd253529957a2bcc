import { runService } from "@orderflow/host";
import { definition } from "./service.js";

await runService(definition);
