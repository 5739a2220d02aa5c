// Registry logins checked the way `docker login` does, so a program can refuse a wrong or rotated
// password before it registers anything, in previews too, instead of failing a later push or pull.
// (Not inside a resource's inputs: there, a rejected input leaves every dependent resource of an
// Automation API program waiting forever.)
import * as pulumi from "@pulumi/pulumi";

/** Thrown when a registry refuses the credentials, or cannot be asked; printed by the CLI without a stack trace. */
export class RegistryLoginError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "RegistryLoginError";
    }
}

/** Loopback registries speak plain HTTP, as the Docker engine allows for them; every other one HTTPS. @internal */
export function registryBaseUrl(server: string): string {
    const host = server.replace(/:[0-9]+$/, "").replace(/^\[|\]$/g, "");
    const loopback = host === "localhost" || host === "::1" || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
    return `${loopback ? "http" : "https"}://${server}`;
}

/** `Bearer realm="…",service="…"` → its parameters. @internal */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
    const [scheme, ...rest] = header.trim().split(/\s+/);
    const params: Record<string, string> = {};
    for (const m of rest.join(" ").matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
    return { scheme: scheme.toLowerCase(), params };
}

/**
 * Logs in to a registry as its HTTP API v2 defines: `GET /v2/`, then Basic auth or a token from the
 * Bearer realm it names. Resolves when the credentials are accepted (or the registry needs none);
 * rejects with the status the registry gave. Await it in a program before creating resources.
 */
export async function checkRegistryLogin(server: string, username: string, password: string): Promise<void> {
    const base = registryBaseUrl(server);
    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
    // Only the status and headers count. A body left unread holds its socket, and with it the process, until the
    // server or a timeout ends it (a large enough 401 body does): each one is cancelled at once.
    const get = async (url: string, auth?: string) => {
        try {
            const res = await fetch(url, { headers: auth ? { Authorization: auth } : {}, signal: AbortSignal.timeout(15_000) });
            await res.body?.cancel();
            return res;
        } catch (e) {
            throw new RegistryLoginError(`cannot reach registry ${server} to check the login (GET ${url}): ${(e as Error).cause ?? (e as Error).message}`);
        }
    };
    const refused = (url: string, res: Response) =>
        new RegistryLoginError(`registry ${server} refused the login of user "${username}": ${res.status} ${res.statusText} (GET ${url}); check the registry password`);

    const probe = await get(`${base}/v2/`);
    if (probe.ok) return;
    const challenge = parseChallenge(probe.headers.get("www-authenticate") ?? "");
    if (probe.status !== 401 || !["basic", "bearer"].includes(challenge.scheme)) {
        throw new RegistryLoginError(`registry ${server} answered GET ${base}/v2/ with ${probe.status} ${probe.statusText}, not an API v2 login challenge`);
    }
    let url = `${base}/v2/`;
    if (challenge.scheme === "bearer") {
        const realm = new URL(challenge.params.realm);
        if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
        realm.searchParams.set("account", username);
        url = realm.toString();
    }
    const res = await get(url, basic);
    if (!res.ok) throw refused(url, res);
}

/** A `kubernetes.io/dockerconfigjson` document for one registry login; secret when the password is. @internal */
export function dockerConfigJson(server: string, username: pulumi.Input<string>, password: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([username, password]).apply(([u, p]) =>
        JSON.stringify({ auths: { [server]: { username: u, password: p, auth: Buffer.from(`${u}:${p}`).toString("base64") } } }),
    );
}
