import { runService } from "@chirp/kit";
import { startUsers } from "./app.js";
import { loadConfig } from "./config.js";

runService(loadConfig, (config, log) => startUsers(config, { log }));
