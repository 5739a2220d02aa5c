// What names a stack on what it made, with nothing to load: the component files and the `dockyard` command
// (which must start quickly) both read these.

/**
 * The annotation on every object a workload makes, naming the stack that made it (`<project>/<stack>`): what
 * tells this stack's objects from anyone else's in the namespace.
 */
export const STACK_ANNOTATION = "dockyard.dev/stack";

/**
 * Whether a `STACK_ANNOTATION` value names this stack (`<project>/<stack>`). Values written before it left the
 * organization out (`<organization>/<project>/<stack>`) count by their project and stack.
 */
export function namesStack(annotation: string | undefined, stack: string): boolean {
    const projectAndStack = (name: string) => name.split("/").slice(-2).join("/");
    return annotation !== undefined && projectAndStack(annotation) === projectAndStack(stack);
}

/** The stack a container belongs to (`<project>/<stack>`): `dockyard recover` finds what a dead update left by it. */
export const STACK_LABEL = "dockyard.dev/stack";
/**
 * The project folder a container was deployed from: two checkouts of a project have the same stack names but
 * their own state, so recover in one never touches the other's containers.
 */
export const PROJECT_DIR_LABEL = "dockyard.dev/project-dir";

