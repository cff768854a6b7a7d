import { runService } from "@chirp/kit";
import { startGateway } from "./app.js";
import { loadConfig } from "./config.js";

runService(loadConfig, (config, log) => startGateway(config, { log }));
