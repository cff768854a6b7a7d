import { runService } from "@chirp/kit";
import { startTimeline } from "./app.js";
import { loadConfig } from "./config.js";

runService(loadConfig, (config, log) => startTimeline(config, { log }));
