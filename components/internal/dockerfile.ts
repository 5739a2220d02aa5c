// What a component needs to know of an app's Dockerfile, read with a real Dockerfile parser
// (dockerfile-ast, the parser behind Docker's language server): line continuations, escape
// directives, JSON and shell forms and comments are its business, not a regular expression's.
import { DockerfileParser } from "dockerfile-ast";

/** What the Dockerfile says about the image it builds. @internal */
export interface DockerfileFacts {
    /** Every build arg the Dockerfile declares with `ARG`, before the first `FROM` or in any stage. */
    declaredArgs: string[];
    /**
     * Whether the built stage ends up with a `HEALTHCHECK` (not `HEALTHCHECK NONE`), its own or one it
     * inherits from an earlier stage it is built `FROM`. A base image from a registry is not looked into.
     */
    healthcheck: boolean;
    /** TCP ports the built stage (and the stages it is built from) `EXPOSE`; UDP and variables are left out. */
    exposedPorts: number[];
    /** The stages' names, in order; unnamed stages are left out. */
    stages: string[];
}

/**
 * Args every build accepts without an `ARG`: Docker's predefined proxy args and BuildKit's own.
 * Passing one of these is never a mistake.
 */
const PREDEFINED_ARGS = new Set([
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    "SOURCE_DATE_EPOCH",
]);

/** Reads a Dockerfile's text; `target` is the stage built, the last when unset. @internal */
export function readDockerfile(content: string, target?: string): DockerfileFacts {
    const file = DockerfileParser.parse(content);
    const stages = file.getFROMs().map((from) => {
        const template = file.getContainingImage(from.getRange().start);
        const instructions = template?.getInstructions() ?? [];
        const healthchecks = template?.getHEALTHCHECKs() ?? [];
        const last = healthchecks[healthchecks.length - 1];
        return {
            name: from.getBuildStage() ?? undefined,
            base: from.getImageName() ?? "",
            args: (template?.getARGs() ?? []).map((a) => a.getProperty()?.getName()).filter((n): n is string => !!n),
            // The last HEALTHCHECK of a stage is the one its image keeps; none leaves the parent's.
            healthcheck: last === undefined ? undefined : last.getSubcommand()?.getValue().toUpperCase() !== "NONE",
            exposed: instructions
                .filter((i) => i.getKeyword() === "EXPOSE")
                .flatMap((i) => i.getArguments().map((a) => /^(\d+)(\/tcp)?$/i.exec(a.getValue())?.[1]))
                .filter((p): p is string => p !== undefined)
                .map(Number),
        };
    });

    const globalArgs = file.getInitialARGs().map((a) => a.getProperty()?.getName()).filter((n): n is string => !!n);
    const declaredArgs = [...globalArgs, ...stages.flatMap((s) => s.args)];

    // Walk from the built stage through the stages it is built FROM (stage names are case-insensitive).
    const byName = (name: string) => stages.findIndex((s) => s.name?.toLowerCase() === name.toLowerCase());
    let index = target === undefined ? stages.length - 1 : byName(target);
    let healthcheck: boolean | undefined;
    const exposed = new Set<number>();
    const seen = new Set<number>();
    while (index >= 0 && !seen.has(index)) {
        seen.add(index);
        const stage = stages[index];
        healthcheck ??= stage.healthcheck;
        stage.exposed.forEach((p) => exposed.add(p));
        index = byName(stage.base);
    }
    return {
        declaredArgs: [...new Set(declaredArgs)],
        healthcheck: healthcheck ?? false,
        exposedPorts: [...exposed].sort((a, b) => a - b),
        stages: stages.map((s) => s.name).filter((n): n is string => n !== undefined),
    };
}

/** Build args given that the Dockerfile never declares: Docker ignores them, with a warning few read. @internal */
export function undeclaredBuildArgs(facts: DockerfileFacts, given: string[]): string[] {
    const declared = new Set(facts.declaredArgs);
    return given.filter((arg) => !declared.has(arg) && !PREDEFINED_ARGS.has(arg) && !arg.startsWith("BUILDKIT_")).sort();
}
