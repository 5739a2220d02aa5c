// The shape of one `dockyard` verb: its help, and what it does with its own arguments.

export interface Verb {
    /** One line for `dockyard --help`. */
    summary: string;
    /** `dockyard <verb> --help`: usage, what it does, its exit codes. */
    help: string;
    /** Runs with the arguments after the verb; resolves with the exit code. */
    run(argv: string[]): Promise<number>;
}
