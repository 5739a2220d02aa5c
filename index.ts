// The Pulumi program: stack config in, one GoApp per app, outputs out.
import { program } from "./compose";

/** Per app: `imageRef`, and `endpoint` for services or `logs` for jobs on Docker. */
export = async () => ({ apps: await program() });
