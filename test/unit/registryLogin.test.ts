// Registry logins as `docker login` performs them, against a real HTTP server on loopback.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as http from "http";
import type { AddressInfo } from "net";
import { RegistryLoginError, checkRegistryLogin, parseChallenge, registryBaseUrl } from "../../components/internal/registryLogin";
import { allRegistrations, registryDouble, resetRegistrations, resetRegistryDouble, settle, useMocks } from "../support/mocks";
import { runProgram, stackConfig } from "../support/stacks";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, host: string) => void;

/** A registry on a loopback port answering with `handler`; reached for real, past the mocks' double. */
async function withRegistry(handler: Handler, test: (host: string) => Promise<void>): Promise<void> {
    let host = "";
    const server = http.createServer((req, res) => handler(req, res, host));
    // As a registry written in Go (Debian's docker-registry) keeps them: an idle connection is never closed from its side.
    server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    registryDouble.realRegistryHosts.add(host);
    try {
        await test(host);
    } finally {
        registryDouble.realRegistryHosts.delete(host);
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
    }
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A registry with Basic auth, as Debian's docker-registry with htpasswd answers. */
const basicRegistry: Handler = (req, res) => {
    if (req.headers.authorization === basic("ci", "right")) res.writeHead(200).end("{}");
    else res.writeHead(401, { "WWW-Authenticate": 'Basic realm="registry"' }).end();
};

/** A registry that hands out tokens from a realm, as Docker Hub and GHCR do. */
const tokenRegistry: Handler = (req, res, host) => {
    const url = new URL(req.url!, `http://${host}`);
    if (url.pathname !== "/token") {
        res.writeHead(401, { "WWW-Authenticate": `Bearer realm="http://${host}/token",service="reg"` }).end();
        return;
    }
    const ok = req.headers.authorization === basic("ci", "right") && url.searchParams.get("service") === "reg" && url.searchParams.get("account") === "ci";
    res.writeHead(ok ? 200 : 401).end(ok ? '{"token":"t"}' : "");
};

describe("registry login", () => {
    before(() => useMocks());
    beforeEach(() => {
        resetRegistrations();
        resetRegistryDouble();
    });
    // Refused passwords would leak into later specs that run a program.
    afterEach(resetRegistryDouble);

    it("accepts the right password and names the refusal of a wrong one (Basic)", () =>
        withRegistry(basicRegistry, async (host) => {
            await checkRegistryLogin(host, "ci", "right");
            await assert.rejects(checkRegistryLogin(host, "ci", "wrong"), (e: Error) => {
                assert.ok(e instanceof RegistryLoginError);
                assert.equal(e.message, `registry ${host} refused the login of user "ci": 401 Unauthorized (GET http://${host}/v2/); check the registry password`);
                return true;
            });
        }));

    it("follows a Bearer challenge to its token realm", () =>
        withRegistry(tokenRegistry, async (host) => {
            await checkRegistryLogin(host, "ci", "right");
            await assert.rejects(checkRegistryLogin(host, "ci", "wrong"), new RegExp(`refused the login of user "ci": 401 Unauthorized \\(GET http://${host}/token\\?service=reg&account=ci\\)`));
        }));

    it("passes a registry that needs no login, and refuses one that does not speak API v2", async () => {
        await withRegistry((_, res) => res.writeHead(200).end("{}"), (host) => checkRegistryLogin(host, "ci", "any"));
        await withRegistry(
            (_, res) => res.writeHead(404).end(),
            (host) => assert.rejects(checkRegistryLogin(host, "ci", "any"), new RegExp(`answered GET http://${host}/v2/ with 404 Not Found, not an API v2 login challenge`)),
        );
    });

    it("says so when the registry cannot be reached", async () => {
        const host = "127.0.0.1:1";
        registryDouble.realRegistryHosts.add(host);
        try {
            await assert.rejects(checkRegistryLogin(host, "ci", "pw"), /cannot reach registry 127\.0\.0\.1:1 to check the login \(GET http:\/\/127\.0\.0\.1:1\/v2\/\)/);
        } finally {
            registryDouble.realRegistryHosts.delete(host);
        }
    });

    it("speaks plain HTTP to loopback registries only", () => {
        assert.equal(registryBaseUrl("localhost:5000"), "http://localhost:5000");
        assert.equal(registryBaseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert.equal(registryBaseUrl("[::1]:5000"), "http://[::1]:5000");
        assert.equal(registryBaseUrl("registry.example.com"), "https://registry.example.com");
        assert.equal(registryBaseUrl("10.0.0.5:5000"), "https://10.0.0.5:5000");
    });

    it("reads challenge parameters", () => {
        assert.deepEqual(parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="x"'), {
            scheme: "bearer",
            params: { realm: "https://auth.example.com/token", service: "registry.example.com", scope: "x" },
        });
        assert.deepEqual(parseChallenge('Basic realm="r"'), { scheme: "basic", params: { realm: "r" } });
    });

    it("leaves nothing open behind it, refused or accepted: the process ends by itself once the check has", async function () {
        this.timeout(60_000);
        // Bodies larger than a stream's buffer, on keep-alive connections: left unread, each holds its socket (and
        // the process) until the server gives up on it, minutes later.
        const chatty: Handler = (req, res) => {
            const body = JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required", detail: "x".repeat(1 << 20) }] });
            if (req.headers.authorization === basic("ci", "right")) res.writeHead(200, { "Content-Type": "application/json" }).end(body);
            else res.writeHead(401, { "WWW-Authenticate": 'Basic realm="registry"', "Content-Type": "application/json" }).end(body);
        };
        await withRegistry(chatty, async (host) => {
            for (const password of ["wrong", "right"]) {
                // A process of its own, doing nothing after the check: it must end without being told to.
                const script = [
                    `const { checkRegistryLogin } = require(${JSON.stringify(require.resolve("../../components/internal/registryLogin"))});`,
                    `checkRegistryLogin(${JSON.stringify(host)}, "ci", ${JSON.stringify(password)}).then(() => "accepted", (e) => e.message).then((outcome) => console.log(outcome));`,
                ].join("\n");
                const outcome = await new Promise<string>((resolve, reject) =>
                    execFile(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), "-e", script], { timeout: 20_000 }, (e, stdout, stderr) =>
                        e ? reject(new Error(`${password}: ${e.killed ? "still running 20 s after it began: something the check opened holds it" : e.message}\n${stdout}${stderr}`)) : resolve(stdout.trim()),
                    ),
                );
                assert.match(outcome, password === "right" ? /^accepted$/ : /refused the login of user "ci": 401 Unauthorized/);
            }
        });
    });

    describe("in the program", () => {
        it("refuses a wrong registry password before registering anything, naming the key", async () => {
            registryDouble.refusedPasswords.add("rotated-away");
            const program = runProgram("staging", stackConfig("staging"), { "dockyard:registryPassword": "rotated-away" });
            await assert.rejects(program, (e: Error) => {
                assert.match(e.message, /^dockyard:registryPassword: registry registry\.example\.com refused the login of user "dockyard-ci": 401 Unauthorized/);
                assert.match(e.message, /set dockyard:registry\.checkLogin to false to skip the check$/);
                return true;
            });
            await settle();
            assert.deepEqual(allRegistrations(), []);
        });

        it("checks the login once per program, and not at all when told not to", async () => {
            await runProgram("staging", stackConfig("staging"), { "dockyard:registryPassword": "pw" });
            assert.deepEqual(registryDouble.logins, ["registry.example.com dockyard-ci"]);
            registryDouble.logins.length = 0;
            registryDouble.refusedPasswords.add("pw");
            const config = stackConfig("staging");
            const registry = { ...JSON.parse(config["dockyard:registry"]), checkLogin: false };
            await runProgram("staging", { ...config, "dockyard:registry": JSON.stringify(registry) }, { "dockyard:registryPassword": "pw" });
            assert.deepEqual(registryDouble.logins, []);
        });
    });
});
