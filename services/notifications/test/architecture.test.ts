import { join } from "node:path";
import { domainPuritySuite } from "@chirp/kit/testing";

domainPuritySuite({ service: "notifications", dir: join(__dirname, ".."), minFiles: 5 });
