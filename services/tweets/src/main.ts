import { runService } from "@chirp/kit";
import { startTweets } from "./app.js";
import { loadConfig } from "./config.js";

runService(loadConfig, (config, log) => startTweets(config, { log }));
