// The Pulumi program: stack config in, one GoApp per app, outputs out.
import { program } from "./compose";

/** `apps` (per app: `imageRef`, and `endpoint` or `logs`) and, when known, `sourceCommit`. */
export = () => program();
