import { runService } from "@chirp/kit";
import { startNotifications } from "./app.js";
import { loadConfig } from "./config.js";

runService(loadConfig, (config, log) => startNotifications(config, { log }));
