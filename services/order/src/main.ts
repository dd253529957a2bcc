import { runService } from "@orderflow/outbox";
import { definition } from "./service.js";

await runService(definition);
