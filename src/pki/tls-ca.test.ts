import { describe, expect, it } from "bun:test";
import { X509Certificate } from "node:crypto";
import { PkiError } from "./errors.ts";
import { describeCert, TlsCa } from "./tls-ca.ts";
import { exportTlsKeyPair, generateTlsKeyPair } from "./tls-keys.ts";

describe("tls-ca", () => {
  it("issues server certificates with SANs and EKU server+client, checkable by node:crypto", async () => {
    const ca = await TlsCa.create({ commonName: "test CA" });
    const s = await ca.issueServer({ commonName: "A1", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    const cert = new X509Certificate(s.certPem);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(cert.keyUsage).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
    expect(s.keyPem).toContain("BEGIN PRIVATE KEY");
    expect(await ca.verifyIssued(s.certPem)).toBe(true);
  });

  it("round-trips through PEM and refuses a key that does not match", async () => {
    const ca = await TlsCa.create({ commonName: "ca1" });
    const again = await TlsCa.fromPem(ca.certPem, await ca.exportKeyPem());
    const c = await again.issueClient({ commonName: "node-1", validSeconds: 60 });
    expect(await ca.verifyIssued(c.certPem)).toBe(true);
    const other = await TlsCa.create({ commonName: "ca2" });
    expect(await other.verifyIssued(c.certPem)).toBe(false);
    await expect(TlsCa.fromPem(ca.certPem, await other.exportKeyPem())).rejects.toBeInstanceOf(PkiError);
  });

  it("issues short-lived client certificates for a key the subject kept", async () => {
    const ca = await TlsCa.create({ commonName: "ca" });
    const { publicKeyPem } = await exportTlsKeyPair(await generateTlsKeyPair());
    const c = await ca.issueClient({
      commonName: "node-2",
      publicKeyPem,
      validSeconds: 120,
      uris: ["veilnet:node:ab"],
    });
    expect(c.keyPem).toBeUndefined();
    const d = describeCert(c.certPem);
    expect(d.commonName).toBe("node-2");
    expect(d.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(120_000);
    expect(await ca.verifyIssued(c.certPem, new Date(Date.now() + 121_000))).toBe(false);
    expect(new X509Certificate(c.certPem).subjectAltName).toContain("veilnet:node:ab");
  });

  it("rejects bad names and bad key PEM", async () => {
    const ca = await TlsCa.create({ commonName: "ca" });
    await expect(ca.issueClient({ commonName: "x,CN=evil" })).rejects.toMatchObject({ code: "PKI_BAD_NAME" });
    await expect(ca.issueClient({ commonName: "x", publicKeyPem: "junk" })).rejects.toMatchObject({
      code: "PKI_BAD_PUBLIC_KEY",
    });
    await expect(ca.issueServer({ commonName: "s" })).rejects.toMatchObject({ code: "PKI_NO_SAN" });
  });
});
