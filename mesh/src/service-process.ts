import { runService, type ServiceSettings } from "@chirp/kit";
import { serviceModule } from "./service-modules.js";

// `node mesh/dist/service-process.js <name>`: one catalogued service as a process of its own, started
// as its own src/main.ts starts it, for startMeshProcesses. The one addition is a run's durable
// consumer name (MESH_CONSUMER_NAME), which not every service reads from a setting of its own.
const name = process.argv[2] ?? "";
const service = serviceModule(name);
runService(
  () => service.loadConfig(process.env) as ServiceSettings,
  (config, log) => service.start(config, { log, bus: undefined, consumerName: process.env.MESH_CONSUMER_NAME || undefined }),
);
