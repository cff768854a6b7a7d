import { join } from "node:path";
import { domainPuritySuite } from "@chirp/kit/testing";

domainPuritySuite({ service: "tweets", dir: join(__dirname, ".."), minFiles: 5 });
