import { runService } from "@chirp/kit";
import { startGraph } from "./app.js";
import { loadConfig } from "./config.js";

runService(loadConfig, (config, log) => startGraph(config, { log }));
