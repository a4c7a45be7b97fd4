import { generate } from "selfsigned";

export interface TlsMaterial {
  key: string;
  cert: string;
}

let shared: Promise<TlsMaterial> | undefined;

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made once per process: clients such as
 * kubectl only send bearer tokens over TLS, so the sim serves HTTPS by default.
 */
export function selfSignedTls(): Promise<TlsMaterial> {
  shared ??= generate([{ name: "commonName", value: "kube-sim" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 365 * 24 * 3_600_000),
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return shared;
}
