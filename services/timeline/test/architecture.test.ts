import { join } from "node:path";
import { domainPuritySuite } from "@chirp/kit/testing";

domainPuritySuite({ service: "timeline", dir: join(__dirname, ".."), minFiles: 4 });
