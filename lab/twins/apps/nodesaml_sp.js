// A minimal Node SP on @node-saml/node-saml (the SAML class that passport-saml wraps), the same for
// every node-saml twin (5.0.1 vulnerable, 5.1.0 fixed); only the pinned versions differ
// (package-lock.json of the twin). Options are node-saml's documented ones:
//   idpCert from the IdP metadata, issuer/audience = this SP's entity ID, callbackUrl = the ACS,
//   wantAssertionsSigned: true (default), wantAuthnResponseSigned: false (the Assertion carries the
//   signature), validateInResponseTo: "always", acceptedClockSkewMs: 120 s.
//
//   GET  /metadata          generateServiceProviderMetadata()
//   GET  /login?email=...   getAuthorizeUrlAsync(): AuthnRequest by HTTP-Redirect
//   POST /acs               validatePostResponseAsync({SAMLResponse})
//   GET  /whoami            200 {"email","name_id"}, else 401 (email = the NameID when it is an email
//                           address, else the "Email" attribute for transient NameIDs, else the NameID)
//   GET  /logout            forget the session
// A refusal is a 403 page and no session.
// Usage: node nodesaml_sp.js --port P --idp-metadata FILE
"use strict";

const http = require("http");
const fs = require("fs");
const crypto = require("crypto");
const { DOMParser } = require("@xmldom/xmldom");
const { SAML } = require("@node-saml/node-saml");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const PORT = Number(args.port);
const BASE = `http://127.0.0.1:${PORT}`;
const ENTITY_ID = `${BASE}/metadata`;
const ACS = `${BASE}/acs`;
const VERSION = require("@node-saml/node-saml/package.json").version;
const XC_VERSION = require("xml-crypto/package.json").version;

// --- the IdP, from its metadata (plain DOM walk: no extra dependency) ---------------------------
const MD = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS = "http://www.w3.org/2000/09/xmldsig#";
const idpDoc = new DOMParser().parseFromString(fs.readFileSync(args["idp-metadata"], "utf8"), "text/xml");
const idpsso = idpDoc.getElementsByTagNameNS(MD, "IDPSSODescriptor")[0];
let sso = "";
for (const s of Array.from(idpsso.getElementsByTagNameNS(MD, "SingleSignOnService"))) {
  if (s.getAttribute("Binding") === "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect") sso = s.getAttribute("Location");
}
const certs = [];
for (const kd of Array.from(idpsso.getElementsByTagNameNS(MD, "KeyDescriptor"))) {
  const use = kd.getAttribute("use");
  if (use && use !== "signing") continue;
  for (const c of Array.from(kd.getElementsByTagNameNS(DS, "X509Certificate"))) certs.push(c.textContent.replace(/\s+/g, ""));
}

const saml = new SAML({
  callbackUrl: ACS,
  entryPoint: sso,
  issuer: ENTITY_ID,
  audience: ENTITY_ID,
  idpCert: certs,
  wantAssertionsSigned: true,
  wantAuthnResponseSigned: false,
  validateInResponseTo: "always",
  acceptedClockSkewMs: 120 * 1000,
});

const sessions = new Map();
function send(res, status, body, type, headers = {}) {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
function sid(req) {
  const m = /(?:^|;\s*)twin_sid=([^;]+)/.exec(req.headers.cookie || "");
  return m ? m[1] : null;
}
function first(v) {
  return Array.isArray(v) ? v[0] : v;
}

async function acs(req, res) {
  let body = "";
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 2 * 1024 * 1024) return send(res, 413, "too large", "text/plain");
    body += c;
  }
  const form = new URLSearchParams(body);
  let profile;
  try {
    const r = await saml.validatePostResponseAsync({ SAMLResponse: form.get("SAMLResponse") || "" });
    profile = r.profile;
    if (!profile || !profile.nameID) throw new Error("no profile");
  } catch (e) {
    console.error(`refused: ${e.message}`);
    return send(res, 403, "<html><body><h1>Login refused</h1></body></html>", "text/html");
  }
  const nameId = String(profile.nameID).trim();
  const email = nameId.includes("@") ? nameId : String(first(profile.Email) || nameId).trim();
  sessions.delete(sid(req) || ""); // a sign-in replaces the browser's previous session
  const s = crypto.randomBytes(24).toString("base64url");
  sessions.set(s, { email, name_id: profile.nameID });
  console.error(`signed in: ${email} (NameID ${profile.nameID})`);
  res.writeHead(303, { Location: "/whoami", "Set-Cookie": `twin_sid=${s}; Path=/; HttpOnly`, "Content-Length": 0 });
  res.end();
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, BASE);
    try {
      if (url.pathname === "/metadata") return send(res, 200, saml.generateServiceProviderMetadata(null, null), "application/samlmetadata+xml");
      if (url.pathname === "/login") {
        const location = await saml.getAuthorizeUrlAsync(url.searchParams.get("RelayState") || "", undefined, {});
        res.writeHead(303, { Location: location, "Content-Length": 0 });
        return res.end();
      }
      if (url.pathname === "/acs" && req.method === "POST") return await acs(req, res);
      if (url.pathname === "/whoami") {
        const s = sessions.get(sid(req) || "");
        return s ? send(res, 200, JSON.stringify(s), "application/json") : send(res, 401, '{"error":"not signed in"}', "application/json");
      }
      if (url.pathname === "/logout") {
        sessions.delete(sid(req) || "");
        return send(res, 200, "signed out", "text/plain");
      }
      if (url.pathname === "/") return send(res, 200, `@node-saml/node-saml ${VERSION} (xml-crypto ${XC_VERSION}) twin`, "text/plain");
      return send(res, 404, "not found", "text/plain");
    } catch (e) {
      console.error(e);
      return send(res, 500, "error", "text/plain");
    }
  })
  .listen(PORT, "127.0.0.1", () => console.error(`@node-saml/node-saml ${VERSION} (xml-crypto ${XC_VERSION}) twin on 127.0.0.1:${PORT}`));
