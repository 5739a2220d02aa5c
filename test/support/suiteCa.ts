// The suite's CA: what its issuer signs route certificates with, and what a client of a route trusts.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** openssl req's arguments for a fresh P-256 key and a certificate valid for a day. */
export const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];

export interface SuiteCa {
    /** The CA's certificate and key, PEM. */
    cert: string;
    key: string;
    /** The same, as files in the directory it was made in. */
    certFile: string;
    keyFile: string;
}

/** A fresh CA, its files in `dir`. */
export function makeSuiteCa(dir: string): SuiteCa {
    const certFile = path.join(dir, "ca.crt");
    const keyFile = path.join(dir, "ca.key");
    execFileSync("openssl", [
        "req", "-x509", ...NEW_KEY, "-keyout", keyFile, "-out", certFile, "-subj", "/CN=dockyard-e2e CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    ], { stdio: "ignore" });
    return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8"), certFile, keyFile };
}
