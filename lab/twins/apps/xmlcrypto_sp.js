// A minimal Node SP whose XML-signature check is xml-crypto, used the way xml-crypto's README
// ("Verifying Xml documents") says: find the Signature, loadSignature(), checkSignature(xml), then
// make sure the element used is the one the signature references (validateElementAgainstReferences).
// The same app runs for every xml-crypto twin (6.0.0 vulnerable, 6.0.1 fixed); only the pinned
// xml-crypto differs (package-lock.json of the twin).
//
//   GET  /metadata          SP metadata (WantAssertionsSigned="true")
//   GET  /login?email=...   SP-initiated login: AuthnRequest by HTTP-Redirect
//   POST /acs               no DTD; Response -> Destination, Issuer, Success, exactly one Assertion,
//                           its enveloped signature checked with the IdP certificate from the IdP
//                           metadata, then Issuer, time window, every AudienceRestriction, one
//                           AuthnStatement, bearer Recipient, InResponseTo (one-time), Assertion ID
//                           not seen before; identity = the NameID when it is an email address,
//                           else the "Email" attribute (transient NameIDs), else the NameID
//   GET  /whoami            200 {"email","name_id"} for the session, else 401
//   GET  /logout            forget the session
// A refusal is a 403 page and no session.
// Usage: node xmlcrypto_sp.js --port P --idp-metadata FILE
"use strict";

const http = require("http");
const fs = require("fs");
const crypto = require("crypto");
const zlib = require("zlib");
const { DOMParser } = require("@xmldom/xmldom");
const xpath = require("xpath");
const { SignedXml } = require("xml-crypto");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const PORT = Number(args.port);
const BASE = `http://127.0.0.1:${PORT}`;
const ENTITY_ID = `${BASE}/metadata`;
const ACS = `${BASE}/acs`;
const SKEW_MS = 120 * 1000;
const XC_VERSION = require("xml-crypto/package.json").version;

const NS = {
  md: "urn:oasis:names:tc:SAML:2.0:metadata",
  ds: "http://www.w3.org/2000/09/xmldsig#",
  samlp: "urn:oasis:names:tc:SAML:2.0:protocol",
  saml: "urn:oasis:names:tc:SAML:2.0:assertion",
};
const select = xpath.useNamespaces(NS);

// --- the IdP, from its metadata ---------------------------------------------------------------
const idpDoc = new DOMParser().parseFromString(fs.readFileSync(args["idp-metadata"], "utf8"), "text/xml");
const IDP_ENTITY_ID = select("string(/md:EntityDescriptor/@entityID)", idpDoc);
const IDP_SSO = select(
  "string(//md:IDPSSODescriptor/md:SingleSignOnService[@Binding='urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect']/@Location)",
  idpDoc,
);
const certB64 = select(
  "string(//md:IDPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']//ds:X509Certificate)",
  idpDoc,
).replace(/\s+/g, "");
const IDP_CERT = `-----BEGIN CERTIFICATE-----\n${certB64.match(/.{1,64}/g).join("\n")}\n-----END CERTIFICATE-----\n`;

const outstanding = new Map(); // AuthnRequest ID -> issued at
const consumed = new Set(); // Assertion IDs already used (replay)
const sessions = new Map();

function send(res, status, body, type, headers = {}) {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
function sid(req) {
  const m = /(?:^|;\s*)twin_sid=([^;]+)/.exec(req.headers.cookie || "");
  return m ? m[1] : null;
}
function refuse(res, why) {
  console.error(`refused: ${why}`);
  send(res, 403, `<html><body><h1>Login refused</h1></body></html>`, "text/html");
}

function metadata() {
  return (
    `<md:EntityDescriptor xmlns:md="${NS.md}" entityID="${ENTITY_ID}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" ` +
    `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${ACS}" index="0" isDefault="true"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}

function login(req, res, url) {
  const id = "_" + crypto.randomBytes(16).toString("hex");
  const now = new Date().toISOString();
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${id}" Version="2.0" ` +
    `IssueInstant="${now}" Destination="${IDP_SSO}" AssertionConsumerServiceURL="${ACS}" ` +
    `ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">` +
    `<saml:Issuer>${ENTITY_ID}</saml:Issuer></samlp:AuthnRequest>`;
  outstanding.set(id, Date.now());
  if (outstanding.size > 5000) outstanding.delete(outstanding.keys().next().value);
  const q = new URLSearchParams({ SAMLRequest: zlib.deflateRawSync(Buffer.from(xml)).toString("base64") });
  const relay = url.searchParams.get("RelayState");
  if (relay) q.set("RelayState", relay);
  res.writeHead(303, { Location: `${IDP_SSO}${IDP_SSO.includes("?") ? "&" : "?"}${q}`, "Content-Length": 0 });
  res.end();
}

function within(notBefore, notOnOrAfter) {
  const now = Date.now();
  if (notBefore && now + SKEW_MS < Date.parse(notBefore)) return false;
  if (notOnOrAfter && now - SKEW_MS >= Date.parse(notOnOrAfter)) return false;
  return true;
}

// Returns the NameID, or throws with the reason of the refusal.
function consume(xml) {
  if (/<!DOCTYPE/i.test(xml)) throw new Error("DTD in a SAML message");
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  const response = doc.documentElement;
  if (!response || response.localName !== "Response" || response.namespaceURI !== NS.samlp) throw new Error("not a Response");
  if (select("string(samlp:Status/samlp:StatusCode/@Value)", response) !== "urn:oasis:names:tc:SAML:2.0:status:Success")
    throw new Error("status not Success");
  if (response.getAttribute("Destination") !== ACS) throw new Error("missing or wrong Destination");
  const respIssuer = select("saml:Issuer", response)[0];
  if (respIssuer && respIssuer.textContent.trim() !== IDP_ENTITY_ID) throw new Error("wrong Response Issuer");
  const assertions = select("saml:Assertion", response);
  if (assertions.length !== 1) throw new Error(`expected one Assertion, got ${assertions.length}`);
  const assertion = assertions[0];

  // The signature check, as xml-crypto's README shows it.
  const signatures = select("ds:Signature", assertion);
  if (signatures.length !== 1) throw new Error("Assertion not signed");
  const sig = new SignedXml({ publicCert: IDP_CERT, getCertFromKeyInfo: () => null });
  sig.loadSignature(signatures[0]);
  if (!sig.checkSignature(xml)) throw new Error("bad signature");
  sig.validateElementAgainstReferences(assertion, doc); // throws unless the Assertion is what was signed

  if (select("string(saml:Issuer)", assertion).trim() !== IDP_ENTITY_ID) throw new Error("wrong Issuer");
  const cond = select("saml:Conditions", assertion)[0];
  if (!cond || !within(cond.getAttribute("NotBefore"), cond.getAttribute("NotOnOrAfter"))) throw new Error("outside Conditions");
  const restrictions = select("saml:AudienceRestriction", cond);
  if (restrictions.length === 0) throw new Error("no AudienceRestriction");
  for (const r of restrictions) {
    if (!select("saml:Audience", r).some((a) => a.textContent.trim() === ENTITY_ID)) throw new Error("wrong Audience");
  }
  if (select("saml:AuthnStatement", assertion).length !== 1) throw new Error("no AuthnStatement");
  const assertionId = assertion.getAttribute("ID");
  if (consumed.has(assertionId)) throw new Error("replayed Assertion ID");
  const scd = select("saml:Subject/saml:SubjectConfirmation[@Method='urn:oasis:names:tc:SAML:2.0:cm:bearer']/saml:SubjectConfirmationData", assertion)[0];
  if (!scd) throw new Error("no bearer SubjectConfirmationData");
  if (scd.getAttribute("Recipient") !== ACS) throw new Error("wrong Recipient");
  if (!scd.getAttribute("NotOnOrAfter") || !within(null, scd.getAttribute("NotOnOrAfter"))) throw new Error("confirmation expired");
  const irt = scd.getAttribute("InResponseTo") || response.getAttribute("InResponseTo");
  if (!irt || !outstanding.has(irt)) throw new Error("unknown InResponseTo");
  if (response.getAttribute("InResponseTo") && response.getAttribute("InResponseTo") !== irt) throw new Error("InResponseTo mismatch");
  outstanding.delete(irt);
  consumed.add(assertionId);
  if (consumed.size > 20000) consumed.delete(consumed.values().next().value);
  const nameIdEl = select("saml:Subject/saml:NameID", assertion)[0];
  const nameId = nameIdEl ? nameIdEl.textContent.trim() : "";
  if (!nameId) throw new Error("no NameID");
  const emails = select("saml:AttributeStatement/saml:Attribute[@Name='Email']", assertion);
  if (emails.length > 1) throw new Error("duplicated attribute Email");
  const values = emails.length ? select("saml:AttributeValue", emails[0]) : [];
  const email = nameId.includes("@") ? nameId : values.length ? values[0].textContent.trim() : nameId;
  return { email, nameId };
}

function acs(req, res) {
  let body = "";
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size <= 2 * 1024 * 1024) body += c;
  });
  req.on("end", () => {
    if (size > 2 * 1024 * 1024) return refuse(res, "message over 2 MiB");
    const form = new URLSearchParams(body);
    let who;
    try {
      const xml = Buffer.from(form.get("SAMLResponse") || "", "base64").toString("utf8");
      who = consume(xml);
    } catch (e) {
      return refuse(res, e.message);
    }
    sessions.delete(sid(req) || ""); // a sign-in replaces the browser's previous session
    const s = crypto.randomBytes(24).toString("base64url");
    sessions.set(s, { email: who.email, name_id: who.nameId });
    console.error(`signed in: ${who.email} (NameID ${who.nameId})`);
    res.writeHead(303, { Location: "/whoami", "Set-Cookie": `twin_sid=${s}; Path=/; HttpOnly`, "Content-Length": 0 });
    res.end();
  });
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, BASE);
    try {
      if (url.pathname === "/metadata") return send(res, 200, metadata(), "application/samlmetadata+xml");
      if (url.pathname === "/login") return login(req, res, url);
      if (url.pathname === "/acs" && req.method === "POST") return acs(req, res);
      if (url.pathname === "/whoami") {
        const s = sessions.get(sid(req) || "");
        return s ? send(res, 200, JSON.stringify(s), "application/json") : send(res, 401, '{"error":"not signed in"}', "application/json");
      }
      if (url.pathname === "/logout") {
        sessions.delete(sid(req) || "");
        return send(res, 200, "signed out", "text/plain");
      }
      if (url.pathname === "/") return send(res, 200, `xml-crypto ${XC_VERSION} twin`, "text/plain");
      return send(res, 404, "not found", "text/plain");
    } catch (e) {
      console.error(e);
      return send(res, 500, "error", "text/plain");
    }
  })
  .listen(PORT, "127.0.0.1", () => console.error(`xml-crypto ${XC_VERSION} twin on 127.0.0.1:${PORT}`));
