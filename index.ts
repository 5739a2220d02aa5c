// The Pulumi program: stack config in, one GoApp per app, outputs out.
import * as pulumi from "@pulumi/pulumi";
import { compose } from "./compose";
import { parseStackConfig, readRawConfig } from "./config";

const plan = parseStackConfig(readRawConfig(), new pulumi.Config("dockyard").getSecret("registryPassword"));

/** Per app: `imageRef`, and `endpoint` for services or `logs` for jobs on Docker. */
export const apps = compose(plan);
