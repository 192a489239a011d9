"""The mutant table: named, documented defects the reference SP can be switched to.

Each mutant is one known defect. The correct SP (no mutant) must pass the whole conformance suite;
with a mutant switched on, exactly the scenarios that target that defect must fail. The table is
therefore the measure of the suite's power. `breaks` names the profile rule (see
`docs/profiles.md`) or the catalogue check IDs (`../shared/catalogue.md`) the defect violates.

Switch mutants on with `SPConfig(mutants=frozenset({...}))`, `samlconf sp serve --mutant NAME`
(repeatable) or the environment variable `SAMLCONF_MUTANT` (comma-separated).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

__all__ = ["Mutant", "MUTANTS", "active", "parse_mutants", "from_env", "UnknownMutant"]


@dataclass(frozen=True)
class Mutant:
    name: str
    defect: str
    breaks: tuple[str, ...]
    profiles: tuple[str, ...] = ("generic", "redis_cloud", "redflag")
    # other mutants this one switches on with it (a defect that is the sum of two table rows)
    implies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "defect": self.defect,
            "breaks": list(self.breaks),
            "profiles": list(self.profiles),
            **({"implies": list(self.implies)} if self.implies else {}),
        }


_ALL = ("generic", "redis_cloud", "redflag")
_RC = ("redis_cloud",)
_RF = ("redflag",)

_TABLE: tuple[Mutant, ...] = (
    # --- provisioning and lifecycle -------------------------------------------------------------
    Mutant("skip_jit", "the ACS signs the session in but never creates or updates the user",
           ("FLOW-01", "PROV-JIT", "POS-01", "POS-02")),
    Mutant("jit_no_update", "a returning user's names and role are never updated from later "
           "assertions (created once, not re-provisioned at login)", ("FLOW-04",)),
    Mutant("session_outlives_user", "/api/me answers from the session's own copy of the user, so "
           "deleting a user (deprovisioning) does not end their sessions", ("PROV-DELETE",), _RC),
    # --- signature ---------------------------------------------------------------------------
    Mutant("accepts_unsigned", "accepts a Response whose Assertion carries no signature",
           ("SIG-01", "SIG-02", "SIG-03", "POS-04", "XSW-04")),
    Mutant("accepts_response_signature", "takes a valid signature on the samlp:Response in place of "
           "the Assertion's (an unsigned Assertion in a signed Response is accepted) although its "
           "metadata says WantAssertionsSigned=\"true\" (a broken promise; with the metadata's "
           "`want_assertions_signed` set to false or absent it is the correct behaviour)",
           ("SIG-03", "POS-04")),
    Mutant("trusts_keyinfo_cert", "verifies the signature with the certificate (or raw KeyValue) "
           "found in the message's own KeyInfo instead of the IdP's certificate from metadata",
           ("SIG-09", "SIG-10", "KEY-01", "KEY-02", "KEY-03", "KEY-05")),
    Mutant("xsw_first_assertion", "verifies the signature of whichever Assertion is signed, then "
           "reads the user from the first Assertion in document order (XML signature wrapping)",
           ("XSW-03", "XSW-04", "XSW-05", "XSW-07", "XSW-08", "XSW-11", "XSW-13", "MAS-02"),
           implies=("signature_position_unchecked", "ignores_duplicate_ids")),
    Mutant("xsw_response_signature", "takes a valid IdP signature on a samlp:Response in place of "
           "the Assertion's, resolving its Reference wherever it points, then reads the outer "
           "Response's Assertion (XSW on the Response signature; a signed Response thus also "
           "stands in for an unsigned Assertion, SIG-03)", ("XSW-02", "SIG-03", "POS-04"),
           implies=("signature_position_unchecked", "ignores_duplicate_ids")),
    Mutant("pi_flattening_c14n", "verifies the signature over a canonical form in which processing "
           "instructions are flattened into text, but reads values from the document as received",
           ("CMT-03",)),
    Mutant("signature_not_verified", "checks that the Assertion carries a signature by a known IdP "
           "but never verifies it cryptographically (digest and SignatureValue not checked)",
           ("SIG-05", "SIG-06", "SIG-08", "KEY-04")),
    Mutant("requires_signed_response", "too strict: refuses a Response whose outer samlp:Response "
           "is not signed, even when its Assertion is", ("POS-03",)),
    Mutant("ignores_force_authn", "asks for ForceAuthn but takes an Assertion whose AuthnInstant "
           "predates the request (a stale authentication)", ("TIME-13",)),
    Mutant("requires_encrypted_assertions", "too strict: refuses a plaintext Assertion (the "
           "configuration of an SP that requires encrypted assertions; with the target file declaring "
           "[sp.policy] require_encrypted_assertions it is the correct behaviour, ENC-01)", ("FLOW-01",)),
    Mutant("accepts_sha1", "accepts SHA-1 signatures (rsa-sha1, in XML and as a Redirect-binding SigAlg, and dsa-sha1 by "
           "a DSA key its IdP metadata publishes) and sha1 digests: no signature-algorithm allow-list",
           ("ALG-02", "ALG-03", "ALG-04", "ALG-09")),
    # --- XML / NameID ------------------------------------------------------------------------
    # --- issue 10: the published parser-differential and wrapping defects, one each --------------
    # (the naive_dsig ones replace pysaml2 by a hand-rolled verifier with exactly that defect)
    Mutant("xsw_unverified_assertion", "hand-rolled check: verifies the first ds:Signature anywhere in "
           "the document, its Reference resolved to any element with that ID, then reads the user from "
           "the Response's first direct-child Assertion (XML signature wrapping; samlify CVE-2025-47949)",
           ("XSW-01", "XSW-06", "XSW-09", "XSW-10", "XSW-12", "XSW-14", "XSW-15", "XSW-16")),
    Mutant("digest_value_first_child", "hand-rolled check: reads DigestValue as its first child node's "
           "data, a comment's included (xml-crypto CVE-2025-29775)", ("PDF-07",)),
    Mutant("signedinfo_first_descendant", "hand-rolled check: takes References from the first "
           "SignedInfo below the Signature, checks the SignatureValue over its direct-child SignedInfo "
           "(xml-crypto CVE-2025-29774)", ("PDF-08",)),
    Mutant("digest_value_document_wide", "hand-rolled check: takes the DigestValue with //ds:DigestValue, "
           "the first one in the document (ruby-saml CVE-2024-45409)", ("PDF-11",)),
    Mutant("split_signature_lookups", "hand-rolled check with ruby-saml's two lookups: the SignatureValue "
           "on the document's first ds:Signature (DTD ATTLIST defaults honoured), the digest on the "
           "Assertion's own child named Signature whatever its namespace, canonicalized by a c14n that "
           "returns \"\" on error (CVE-2025-25292, CVE-2025-66567)", ("PDF-02", "PDF-03", "PDF-12")),
    Mutant("void_canonicalization", "hand-rolled check: a canonicalization error yields the empty "
           "string, which is digested and verified (ruby-saml CVE-2025-66568, Golden SAML Response)",
           ("PDF-05", "PDF-06")),
    Mutant("multiple_roots", "accepts a document with several root elements: verifies the first root's "
           "signature, reads the Assertion from a later root (passport-saml CVE-2022-39299)", ("PDF-09",)),
    Mutant("doctype_roundtrip", "verifies the document as re-serialised with the DOCTYPE's SYSTEM literal "
           "re-quoted (REXML), reads the claims from the first parse (ruby-saml CVE-2025-25291)", ("PDF-01",)),
    Mutant("recovering_parser", "parses with error recovery (Nokogiri's default): malformed or "
           "round-trip-unstable XML is fixed up instead of refused, then checked by the careful "
           "hand-rolled verifier (reference_sp/naive_dsig.py, no defect switched on)", ("PDF-10", "PDF-13")),
    Mutant("first_text_node", "reads NameID, attribute values, Audience and Issuer as their first DOM "
           "child node (a comment or CDATA section cuts the value: xmldom firstChild.data)",
           ("CMT-01", "CMT-02", "CMT-04", "CMT-06")),
    Mutant("decodes_entities_twice", "HTML-unescapes NameID and attribute values once more after the "
           "XML parser has decoded them", ("CMT-05",)),
    Mutant("attributes_descendant_search", "collects attributes with a descendant search (//Attribute, "
           "first one wins), which reaches an Assertion inside saml:Advice", ("XSW-17",)),
    Mutant("nameid_comment_truncation", "reads the NameID and attribute values as the text before "
           "the first XML comment (the 2018 comment-truncation bug)", ("CMT-01", "CMT-02")),
    Mutant("accepts_doctype", "does not refuse a message that carries a DOCTYPE", ("XML-01",)),
    Mutant("resolves_external_entities", "parses the message once with DTD loading and an entity "
           "resolver that fetches http(s) URLs (XXE / SSRF), before the normal checks",
           ("XML-02", "XML-04")),
    Mutant("accepts_empty_nameid", "accepts an empty NameID (the user is then taken from the "
           "attributes alone)", ("NID-02",)),
    Mutant("lax_nameid", "does not check a NameID against its Format: persistent over 256 "
           "characters, NameQualifier/SPNameQualifier of another IdP/SP, an emailAddress with a "
           "display name or comment", ("NID-04", "NID-05", "NID-06", "NID-07")),
    Mutant("authn_statement_optional", "accepts an Assertion without AuthnStatement",
           ("MAS-04",)),
    Mutant("ignores_status", "reads the Assertion whatever the Response's StatusCode says (an "
           "error status, an illegal one or none at all)", ("STA-01", "STA-02", "STA-03", "STA-04")),
    Mutant("reflects_status_message", "shows the IdP's StatusMessage on the refusal page as is "
           "(reflected XSS)", ("STA-05",)),
    Mutant("no_encrypted_assertions", "refuses every EncryptedAssertion", ("POS-05",)),
    Mutant("rejects_fractional_seconds", "refuses xs:dateTime values with fractional seconds",
           ("POS-06",)),
    # --- replay / correlation ----------------------------------------------------------------
    Mutant("no_replay_cache", "keeps no cache of consumed Response/Assertion IDs (under redflag "
           "only RPL-02 can show it: request correlation already stops a plain replay)",
           ("RPL-02", "RPL-03", "RPL-05", "SLO-09")),
    Mutant("no_replay_protection", "neither a replay cache nor request correlation: the SP of "
           "`no_replay_cache` that also never checks InResponseTo (as `ignores_in_response_to`), "
           "so a Response posted again from another browser is taken", ("RPL-01", "RPL-06"),
           implies=("no_replay_cache", "ignores_in_response_to")),
    Mutant("ignores_in_response_to", "does not correlate InResponseTo with the AuthnRequest this "
           "browser session sent", ("IRT-01", "IRT-02", "IRT-03", "IRT-04", "IRT-06", "AREQ-13")),
    Mutant("accepts_idp_initiated", "accepts unsolicited (IdP-initiated) Responses even where the "
           "profile supports SP-initiated sign-on only", ("IRT-05", "RF-SP-ONLY", "FLOW-02"), _RF),
    # --- time --------------------------------------------------------------------------------
    Mutant("ignores_not_on_or_after", "ignores Conditions/@NotOnOrAfter and "
           "SubjectConfirmationData/@NotOnOrAfter (expired assertions accepted)",
           ("TIME-02", "TIME-03", "TIME-04", "TIME-07")),
    Mutant("ignores_not_before", "ignores Conditions/@NotBefore (not-yet-valid assertions "
           "accepted; with it goes the NotBefore < NotOnOrAfter window check)", ("TIME-01", "TIME-06")),
    Mutant("conditions_optional", "checks the validity window and audience only when the Assertion "
           "carries Conditions: an Assertion without Conditions is accepted", ("TIME-10",)),
    Mutant("no_clock_skew", "too strict: no clock-skew allowance (windows compared to the second) "
           "and a Response is stale 60 s after its IssueInstant", ("POS-07", "POS-07B")),
    # --- audience / destination / recipient / issuer ----------------------------------------
    Mutant("ignores_audience", "does not check the AudienceRestriction", ("AUD-01", "AUD-02",
                                                                            "AUD-04", "AUD-05",
                                                                            "AUD-06")),
    Mutant("first_audience_only", "too strict: compares only the first Audience of an "
           "AudienceRestriction with its entityID", ("AUD-03",)),
    Mutant("ignores_recipient", "does not compare SubjectConfirmationData/@Recipient with the ACS "
           "(pysaml2 still insists that one is present)", ("DST-05",)),
    Mutant("recipient_optional", "accepts a bearer SubjectConfirmationData without Recipient",
           ("DST-06",)),
    Mutant("accepts_non_bearer", "accepts a SubjectConfirmation of any Method (sender-vouches, "
           "holder-of-key) in place of bearer", ("DST-07",)),
    Mutant("ignores_destination", "does not check Response/@Destination",
           ("DST-01", "DST-02", "DST-03", "DST-04")),
    Mutant("ignores_issuer", "never compares an Issuer with the configured IdP's entityID: the "
           "configured IdP's key verifies a message whatever Issuer (Response or Assertion) it names, "
           "with whatever Format, or none on a signed Response",
           ("ISS-01", "ISS-02", "ISS-05", "ISS-06", "ISS-07", "KEY-07")),
    # --- attributes --------------------------------------------------------------------------
    Mutant("email_falls_back_to_nameid", "a missing required email attribute is taken from the "
           "NameID instead of refusing the sign-in", ("ATTR-01",)),
    Mutant("attr_names_case_insensitive", "matches attribute names case-insensitively "
           "(`email` is taken for `Email`)", ("ATTR-05",)),
    Mutant("duplicate_attribute_last_wins", "a duplicated attribute name silently takes the last "
           "one instead of refusing the Response", ("ATTR-03",)),
    Mutant("attribute_statement_optional", "an Assertion without any attribute signs its NameID in "
           "as a user without accounts, tenants or role instead of refusing it", ("ATTR-02",)),
    Mutant("friendly_name_matches", "an Attribute's FriendlyName is taken as its Name (the later "
           "one wins, no ambiguity check)", ("ATTR-04",)),
    Mutant("role_split_on_comma", "a role value with a comma is split and its last part taken",
           ("ATTR-06",), _RF),
    Mutant("splits_values_on_comma", "splits every single-valued attribute on commas (a first "
           "name 'Doe, John' becomes two values)", ("ATTR-07",)),
    Mutant("role_first_value", "of several role values, takes the first instead of refusing",
           ("ATTR-08",), _RF),
    Mutant("roles_case_insensitive", "compares roles case-insensitively (OWNER, ADMINISTRATOR "
           "are taken)", ("ATTR-09",), ("redis_cloud", "redflag")),
    Mutant("complex_values_as_text", "takes the text of an AttributeValue that holds elements "
           "(<x>Super Administrator</x>) as its value", ("ATTR-10",)),
    Mutant("wildcard_tenantid", "an empty or '*' tenantid grants every tenant of the signing IdP",
           ("ATTR-11", "TEN-08"), _RF),
    Mutant("unescaped_error_page", "refusal pages show the message (with the refused attribute "
           "value) as HTML, unescaped", ("ATTR-13",)),
    Mutant("jit_overwrites_other_idp_user", "a SAML user provisioned by one IdP is signed in and "
           "updated (role, tenants) by another configuration's IdP asserting the same email",
           ("ATTR-14",)),
    Mutant("email_domain_first_at", "takes an email's domain as the text after the first '@' (up to "
           "the next one) and does not check the address syntax", ("TEN-06",), _RC),
    # --- redis_cloud rules -------------------------------------------------------------------
    Mutant("mapping_first_value_only", "reads only the first AttributeValue of "
           "redisAccountMapping (the multi-valued form loses accounts)", ("RC-MAPPING-MULTI", "PROP-01"), _RC),
    Mutant("crashes_on_malformed_pair", "an account mapping pair without '=' raises an unhandled "
           "error (HTTP 500) instead of being refused", ("PROP-01",), _RC),
    Mutant("owner_on_unknown_role", "an unknown role in redisAccountMapping grants owner instead "
           "of no access", ("RC-ROLE-UNKNOWN", "PROP-01"), _RC),
    Mutant("skip_domain_check", "signs users in through a SAML configuration whose email domain "
           "is not verified (or not bound to that configuration)", ("RC-DOMAIN", "TEN-01"), _RC),
    Mutant("keeps_saml_users_at_deactivation", "deactivating SAML leaves the account's SAML users "
           "in place", ("RC-DEACTIVATE",), _RC),
    Mutant("locks_bypass_users", "once SAML is active, local bypass users of the account can no "
           "longer sign in with their password", ("RC-BYPASS",), _RC),
    Mutant("converts_owner_at_activation", "activation converts every local user to SAML, "
           "including the owner who activated it", ("RC-ACTIVATE-OWNER",), _RC),
    Mutant("local_login_after_activation", "local users keep signing in with their password after "
           "SAML is activated (no conversion)", ("RC-ACTIVATE-CONVERT", "RF-LOCAL-OFF")),
    Mutant("link_without_owner_check", "links an account to a SAML configuration without checking "
           "that the same user owns both accounts", ("RC-LINK",), _RC),
    Mutant("grants_unlinked_accounts", "grants an account named in redisAccountMapping even when "
           "it is not SAML-enabled or belongs to another SAML configuration",
           ("RC-ACCOUNT-NOT-SAML", "TEN-03"), _RC),
    Mutant("verify_domain_without_txt", "marks a domain verified when asked to verify it, without "
           "finding its TXT record in DNS", ("RC-DNS",), _RC),
    Mutant("saml_login_keeps_local", "a SAML sign-in for the email of a local user signs them in "
           "but leaves them a local user whose password still works", ("RC-SAML-CONVERTS",), _RC),
    Mutant("deactivate_without_owner_check", "deactivates SAML for an account at the request of "
           "any user (a SAML owner, a local member), not only a local owner",
           ("RC-DEACTIVATE-OWNER",), _RC),
    Mutant("ignores_relaystate_idpid", "an IdP-initiated RelayState ?idpId= naming no known SAML "
           "configuration is ignored (the configuration is taken from the Issuer) instead of "
           "refusing the sign-in", ("RC-RELAYSTATE",), _RC),
    Mutant("metadata_stale_acs", "the SP metadata it hands out for a SAML configuration "
           "(?idpId=) names an AssertionConsumerService Location (/saml2/acs) the SP no longer serves", ("RC-METADATA",)),
    Mutant("keeps_old_idp_cert", "after an IdP configuration's metadata (signing certificate) is "
           "replaced, the previous certificate keeps verifying", ("RC-CERT-UPDATE",)),
    # --- changes between logins (both contracts) ---------------------------------------------
    Mutant("reprovision_no_additions", "a returning user gains no account or tenant that was not "
           "granted at an earlier login (new pairs / tenantid values ignored)",
           ("RC-ACCOUNT-ADDED", "RF-TENANT-ADDED"), ("redis_cloud", "redflag")),
    Mutant("role_fixed_at_first_login", "a returning user keeps the role(s) of their first login: "
           "a changed role in a later assertion is ignored", ("RC-ROLE-CHANGED", "RF-ROLE-CHANGED"),
           ("redis_cloud", "redflag")),
    # --- redflag rules -----------------------------------------------------------------------
    Mutant("unknown_role_as_editor", "a role outside the vocabulary signs the user in as Editor "
           "instead of refusing the sign-in", ("RF-ROLE-UNKNOWN", "PROP-03"), _RF),
    Mutant("tenant_url_not_checked", "a sign-in at the URL of a tenant the assertion does not grant "
           "is accepted (into one of the granted tenants)", ("RF-TENANT-NOT-GRANTED",), _RF),
    Mutant("current_tenant_first_granted", "after sign-in the current tenant is the first granted "
           "one, not the tenant whose sign-on URL was used", ("RF-TENANT-URL",), _RF),
    Mutant("switch_to_any_tenant", "switching tenants accepts any configured tenant, granted or "
           "not", ("RF-SWITCH",), _RF),
    Mutant("keeps_removed_tenants", "re-provisioning at login adds new tenants (accounts) but never "
           "removes those missing from the latest tenantid (redisAccountMapping)",
           ("RF-REPROVISION", "RC-ACCOUNT-REMOVED"), ("redis_cloud", "redflag")),
    Mutant("tenantid_no_split", "treats a comma-separated tenantid as one tenant name",
           ("RF-MULTI-TENANT", "PROP-02"), _RF),
    Mutant("rejects_role_alias", "refuses the Entra ID spelling `Super_Administrator`",
           ("RF-ROLE-ALIAS", "PROP-03"), _RF),
    Mutant("any_tenant_idp", "accepts an assertion signed by any configured IdP for any tenant "
           "(no one-IdP-per-tenant binding)", ("RF-ONE-IDP", "TEN-02", "TEN-03")),
    # --- sessions / SLO / redirects ----------------------------------------------------------
    Mutant("last_login_wins", "keeps one process-wide signed-in user: every browser with a session "
           "is shown as whoever signed in last", ("FLOW-06",)),
    Mutant("session_fixation", "issues a session identifier when login starts and keeps it (and "
           "any earlier one) after sign-in, instead of a new one",
           ("SES-01",)),
    Mutant("open_redirect_relaystate", "redirects to any RelayState after sign-in: absolute and "
           "scheme-relative URLs, backslash and control-character tricks, script schemes, any length",
           ("RLY-01", "RLY-02", "RLY-03", "RLY-05")),
    Mutant("trusts_returned_relaystate", "after an SP-initiated sign-in redirects to the RelayState "
           "that came back from the IdP instead of its own server-side deep link", ("RLY-04",)),
    Mutant("echoes_relaystate", "after sign-in shows a 'Continue' link with the RelayState written "
           "into the HTML unescaped (reflected XSS)", ("RLY-06",)),
    Mutant("drops_deep_link", "after an SP-initiated sign-in always lands on '/', losing the page "
           "the user asked for", ("SES-04",)),
    Mutant("slo_accepts_unsigned", "ends sessions on an unsigned LogoutRequest", ("SLO-01",
                                                                                   "SLO-11")),
    Mutant("slo_signature_not_verified", "requires Signature and SigAlg on a Redirect LogoutRequest "
           "but never verifies them (attacker keys, reordered or tampered query strings pass)",
           ("SLO-02", "RLY-07")),
    Mutant("slo_ignores_issuer", "takes a LogoutRequest without Issuer, or naming an unknown IdP, "
           "as coming from the configured IdP", ("SLO-03",)),
    Mutant("slo_ignores_time", "ignores LogoutRequest/@NotOnOrAfter (expired requests honoured)",
           ("SLO-04",)),
    Mutant("slo_ignores_destination", "ignores LogoutRequest/@Destination", ("SLO-05",)),
    Mutant("slo_session_index_only", "ends the sessions a LogoutRequest's SessionIndex names "
           "without matching its NameID (another user's or none)", ("SLO-06", "SLO-07")),
    Mutant("slo_ignores_session_index", "ends every session of the NameID, whatever SessionIndex "
           "the LogoutRequest names", ("SLO-08",)),
    Mutant("slo_xsw", "accepts an unsigned LogoutRequest when an element inside it (a captured "
           "Assertion) carries a valid IdP signature", ("SLO-10",)),
    Mutant("logout_waits_for_idp", "/logout keeps the local session until the IdP's LogoutResponse "
           "says Success (a failed or partial logout leaves the user signed in)", ("SLO-14",)),
    Mutant("slo_redirects_to_relaystate", "after a LogoutResponse redirects to its RelayState as is "
           "(open redirect)", ("RLY-08",)),
    Mutant("slo_no_logout_response", "ends the sessions an IdP LogoutRequest names but never "
           "answers it with a LogoutResponse", ("POS-11",)),
    Mutant("logout_local_only", "/logout ends the local session only: no LogoutRequest to the IdP",
           ("FLOW-03",)),
    # --- signature shape, keys, algorithms, XML, time, encryption (issue 10) -------------------
    Mutant("generic_xmldsig", "verifies any ds:Signature in the message with libxmlsec1's generic "
           "XML-DSig rules (the metadata key, but none of SAML's signature profile: any number and "
           "place of References and signatures, any URI, any transform or algorithm libxmlsec1 "
           "knows, no allow-list), then reads the first Assertion",
           ("SIG-12", "SIG-13", "SIG-14", "SIG-15", "ALG-01", "ALG-07", "ALG-08", "XML-10", "XML-12"),
           implies=("signature_position_unchecked",)),
    Mutant("signature_position_unchecked", "accepts an Assertion whose (valid) signature is not "
           "where the schema puts it, right after the Issuer, or carries two (SAML's schema, which pysaml2 "
           "checks only on its re-serialised object: CVE-2021-21238 and its bare two-signature variant)",
           ("SIG-16", "SIG-17")),
    Mutant("ignores_duplicate_ids", "accepts a message in which two elements carry the same ID",
           ("SIG-18",)),
    Mutant("ignores_key_use", "reads every KeyDescriptor of the IdP metadata as a signing key, "
           "including one published with use=\"encryption\"", ("KEY-06",)),
    Mutant("pkix_keyinfo_dates", "a policy, not a defect: refuses a message whose KeyInfo "
           "certificate is outside its validity dates (the PKIX reading of KEY-09)", ("KEY-09",)),
    Mutant("scd_not_before_ignored", "accepts a bearer SubjectConfirmationData that carries "
           "NotBefore (ignores it)", ("TIME-05",)),
    Mutant("ignores_unknown_conditions", "skips a Condition it cannot evaluate instead of "
           "refusing the assertion", ("TIME-11",)),
    Mutant("ignores_session_not_on_or_after", "keeps the SP session for its own lifetime, past "
           "the AuthnStatement's SessionNotOnOrAfter", ("TIME-12",)),
    Mutant("no_size_limit", "parses a SAMLResponse of any size (no limit before parsing)",
           ("XML-13",)),
    Mutant("expands_entities", "parses the message with its DTD and expands entities (internal, "
           "file and network; no amplification guard), then verifies and reads the expanded "
           "document (and, as an SP without that guard would, bounds no attribute value: the "
           "expansion reaches the user store)", ("XML-03", "XML-05", "XML-06"),
           implies=("unbounded_attribute_values",)),
    Mutant("processes_xinclude", "runs XInclude processing (network allowed) on the message before "
           "the normal checks", ("XML-07",)),
    Mutant("trusts_encrypted_assertion", "takes an encrypted Assertion as authentic without a "
           "signature (only the SP's public key was needed to make it)", ("ENC-02",)),
    Mutant("first_encrypted_key_only", "tries only the first EncryptedKey of an "
           "EncryptedAssertion (a second one for the SP's key is never tried)", ("ENC-05",)),
    Mutant("accepts_rsa_1_5", "accepts RSA PKCS#1 v1.5 key transport (rsa-1_5)", ("ENC-06",)),
    Mutant("accepts_cbc", "accepts AES-CBC content encryption", ("ENC-07",)),
    Mutant("ignores_encrypted_type", "accepts an EncryptedData whose Type is not #Element",
           ("ENC-08",)),
    Mutant("lax_timestamps", "reads a timestamp's first 19 characters as UTC (an offset or "
           "missing zone ignored) and skips a check whose timestamp does not parse", ("TIME-09",)),
    Mutant("no_issue_instant_age", "never bounds the age of IssueInstant: an assertion issued "
           "weeks ago is taken while its NotOnOrAfter lies ahead", ("TIME-08",)),
    Mutant("unknown_algorithm_unverified", "a SignatureMethod it does not know is not verified "
           "at all (falls back to 'no verification' instead of refusing)", ("ALG-06",)),
    Mutant("first_signing_key_only", "uses only the first signing key of the IdP metadata (a "
           "signature by the second, rollover key is refused)", ("POS-08",)),
    Mutant("hmac_key_confusion", "lets the message's SignatureMethod choose the algorithm and "
           "hands it the IdP's configured certificate as the key: an HMAC keyed with that public "
           "certificate verifies", ("ALG-05",)),
    Mutant("digest_not_checked", "verifies the SignatureValue over SignedInfo with the IdP key but "
           "never recomputes the Reference digest over the signed element", ("SIG-07", "SIG-05")),
    Mutant("unsigned_ok_without_key_use", "IdP metadata imported without `use` on its KeyDescriptors "
           "switches signature validation off (the Keycloak metadata-import defect)", ("KEY-08",)),
    Mutant("accepts_weak_idp_key", "takes IdP metadata whose signing key is RSA-1024 (no minimum key "
           "size at configuration)", ("KEY-10",)),
    Mutant("rsa_only", "too strict: refuses ECDSA (P-256, ecdsa-sha256) IdP signatures", ("ALG-10",)),
    # --- issue 10 (sigexact): the published shapes of SIG-11, XML-08/09/11, as naive verifiers ------
    Mutant("reference_not_checked", "hand-rolled check: verifies the Assertion's own Signature but resolves "
           "its Reference to any element with that ID (the Response, or a genuine Assertion parked "
           "elsewhere) instead of requiring the Assertion's own ID (pysaml2 < 5.0.0, CVE-2020-5390)",
           ("SIG-11",)),
    Mutant("processes_references", "hand-rolled check that first processes every ds:Reference as "
           "generic XML-DSig allows: a non-same-document URI fetched over http (pysaml2 < 4.6.0 SSRF), "
           "every XSLT Transform run with network reads (libxmlsec1 with no transform allow-list)",
           ("XML-08", "XML-09", "XML-11")),
    # --- issue 10: decrypting by hand, graceful refusals, shape (reference_sp/defects.py) ----------
    Mutant("decrypt_then_first_assertion", "decrypts the EncryptedAssertion itself, then takes a signature "
           "as good when it verifies over some Assertion with the ID its Reference names (the copy in "
           "ds:Object will do) and reads the first Assertion in document order, not the verified node "
           "(signature wrapping inside the encrypted assertion, CVE-2024-9487 area)",
           ("ENC-03", "XSW-08"), implies=("signature_position_unchecked", "ignores_duplicate_ids")),
    Mutant("defaults_encryption_method", "decrypts an EncryptedData without EncryptionMethod by guessing "
           "the algorithm (AES-CBC of the unwrapped key's size, a decrypter's default method) instead "
           "of refusing it", ("ENC-09",)),
    Mutant("decrypted_plaintext_entities", "parses the decrypted plaintext with a default parser (DTD "
           "loaded, entities expanded, http(s) fetched) instead of the hardened one it uses on the "
           "message", ("ENC-10",)),
    Mutant("saml_errors_unhandled", "lets pysaml2's exceptions (an error status) escape the ACS and "
           "reads the assertion pysaml2 could not decrypt without checking it is there "
           "(session_info() on None): a server error (500) instead of a meaningful refusal page",
           ("POS-10", "ENC-04", "ENC-09")),
    Mutant("subject_optional", "takes an Assertion without Subject, the user named by its email "
           "attribute, with no bearer confirmation asked for (ruby-saml's skip_subject_confirmation "
           "with the identity read from an attribute; no schema validation requiring the Subject)",
           ("MAS-06",)),
    Mutant("no_depth_limit", "parses the message with no depth limit and builds its objects "
           "recursively (pysaml2's class builder on ElementTree): a deeply nested document overflows "
           "the stack into a server error (500)", ("XML-14",)),
    Mutant("ignores_metadata_valid_until", "imports IdP metadata without regard to its validUntil and "
           "keeps using it after that date (the expired metadata's key still verifies sign-ins)",
           ("KEY-09B",)),
    # --- the SP's own AuthnRequest (the mock IdP inspects it) ----------------------------------
    Mutant("authn_request_by_post", "sends every AuthnRequest by HTTP-POST, never by HTTP-Redirect",
           ("AREQ-01",)),
    Mutant("areq_issuer_format", "the AuthnRequest's Issuer carries Format=emailAddress",
           ("AREQ-02",)),
    Mutant("weak_request_id", "AuthnRequest IDs are pysaml2's default (17 alphanumerics, about 101 "
           "random bits, short of Core 1.3.4's 128)", ("AREQ-03",)),
    Mutant("areq_local_time", "the AuthnRequest's IssueInstant carries a time-zone offset instead of "
           "'Z'", ("AREQ-04",)),
    Mutant("areq_wrong_destination", "the AuthnRequest's Destination is not the IdP endpoint it is "
           "sent to", ("AREQ-05",)),
    Mutant("areq_acs_index", "the AuthnRequest names an AssertionConsumerServiceIndex next to its "
           "URL", ("AREQ-06",)),
    Mutant("areq_nameid_policy_format", "the AuthnRequest's NameIDPolicy forces a Format "
           "(emailAddress)", ("AREQ-07",)),
    Mutant("areq_subject_confirmation", "the AuthnRequest carries a Subject with a bearer "
           "SubjectConfirmation", ("AREQ-08",)),
    Mutant("areq_authn_context_minimum", "the AuthnRequest asks for an authentication context with "
           "Comparison=\"minimum\"", ("AREQ-11",)),
    Mutant("relaystate_raw_url", "sends the deep link itself (a URL path) as RelayState instead of "
           "an opaque handle", ("AREQ-12",)),
    # --- bindings and metadata -------------------------------------------------------------------
    Mutant("acs_accepts_redirect", "the ACS also takes a Response by HTTP-Redirect (GET, deflated)",
           ("BND-01",)),
    Mutant("unbounded_inflate", "inflates Redirect-binding messages without a size bound",
           ("BND-02",)),
    Mutant("inflates_post_binding", "inflates a POSTed SAMLResponse that is DEFLATE-compressed",
           ("BND-03",)),
    Mutant("crashes_on_bad_base64", "a POSTed SAMLResponse that is not strict base64 ends in a "
           "server error (500)", ("BND-04",)),
    Mutant("duplicate_saml_response_first_wins", "a second SAMLResponse (in the query or body) is "
           "ignored instead of refused", ("BND-05",)),
    Mutant("metadata_plain_http_acs", "the SP metadata also lists an ACS on a plain-http host",
           ("BND-06",)),
    Mutant("metadata_no_contact", "the SP metadata has no technical ContactPerson", ("META-01",)),
    Mutant("metadata_shared_key", "the SP metadata's encryption key is its signing key",
           ("META-02",)),
    Mutant("ignores_post_binding", "ignores the HTTP-POST AuthnRequest binding (binding=post): "
           "always sends the AuthnRequest by Redirect", ("FLOW-05",)),
    # --- signed AuthnRequests (each says AuthnRequestsSigned="true" in its metadata) -------------
    Mutant("areq_unsigned", "its metadata says AuthnRequestsSigned=\"true\", but its AuthnRequests "
           "(Redirect and POST) carry no signature", ("AREQ-09", "AREQ-10")),
    Mutant("areq_wrong_key", "signs its AuthnRequests with a key its metadata does not publish",
           ("AREQ-09", "AREQ-10")),
    Mutant("areq_sha1_signature", "signs its AuthnRequests with rsa-sha1 (and sha1 digests)",
           ("AREQ-09", "AREQ-10")),
    Mutant("areq_embedded_signature_redirect", "a Redirect-binding AuthnRequest carries an enveloped "
           "ds:Signature in the deflated XML besides the query signature", ("AREQ-09",)),
    # --- NameID as an account key ------------------------------------------------------------------
    Mutant("no_encrypted_nameid", "refuses an Assertion whose Subject carries an EncryptedID",
           ("NID-10",)),
    Mutant("links_transient_nameid", "looks a returning user up by the NameID first, whatever its Format: "
           "a transient NameID value issued again signs in whoever it was first issued to", ("NID-08",)),
    Mutant("folds_identifiers", "folds the email and NameID to a skeleton before looking the user up "
           "(NFKC, Cyrillic look-alike letters to Latin, zero-width characters dropped): a look-alike "
           "address signs in the existing account", ("NID-09",)),
    # --- the SP's own LogoutRequest -----------------------------------------------------------------
    Mutant("slo_request_bare_nameid", "its LogoutRequest names the NameID by value only (the received "
           "Format, NameQualifier and SPNameQualifier dropped)", ("SLO-16",)),
    Mutant("slo_request_no_expiry", "its LogoutRequest carries no NotOnOrAfter", ("SLO-16",)),
    Mutant("ignores_authn_context", "requests an authentication context (MFA, exact) but takes any "
           "AuthnContextClassRef the IdP asserts", ("MAS-07",)),
    Mutant("nameid_optional", "signs a user in from the attributes when the Subject has no NameID, "
           "although its target file declares [sp.policy] requires_name_id = true", ("NID-01",),
           implies=("accepts_empty_nameid",)),
    Mutant("replay_cache_in_memory", "keeps its replay cache in process memory: a restart (or another "
           "node) forgets the consumed IDs", ("RPL-04",)),
    Mutant("pending_requests_never_expire", "keeps AuthnRequests pending for good: a Response to a "
           "request older than its declared lifetime is still taken", ("IRT-08",)),
    Mutant("ignores_name_id_policy", "asks for a persistent NameID (NameIDPolicy Format) but takes a NameID "
           "of any Format", ("NID-03",)),
    Mutant("first_value_only", "reads only the first AttributeValue of every attribute (a second "
           "account mapping or tenant is dropped)", ("POS-09",)),
    Mutant("acs_not_bound_to_request", "with two ACS endpoints, takes a Response at either, whichever "
           "one its AuthnRequest named", ("DST-10",)),
    # --- sessions, attribute bounds, tenants (issue 11) -------------------------------------------
    Mutant("unsolicited_replaces_session", "an unsolicited (IdP-initiated) Response for another user "
           "silently replaces the session the browser already has (login CSRF)", ("SES-02",), _RC),
    Mutant("session_switch_merges", "a sign-in over another user's session carries that user's "
           "accounts/tenants over to the new user", ("SES-03",)),
    Mutant("unbounded_attribute_values", "reads and stores attribute values of any length and "
           "number (no bound: a 10 KB first name is kept whole)", ("ATTR-12",)),
    Mutant("ignores_scope", "keeps a scoped attribute's value (user@scope) whatever its scope, never "
           "checking it against the IdP metadata's <shibmd:Scope> (only under a profile naming "
           "[attributes] scoped; the reference SP's `scoped_attribute` option)", ("TEN-05",), ("generic",)),
    Mutant("users_keyed_by_name_id", "finds a returning user by NameID alone, whichever IdP "
           "asserted it: a persistent NameID from another configuration's IdP signs in (and "
           "updates) the first IdP's user", ("TEN-04",)),
    Mutant("relaystate_selects_tenant", "in IdP-initiated sign-on, verifies the Response as its "
           "Issuer's configuration but provisions into the configuration the RelayState's ?idpId= "
           "names (tenant chosen from user-controlled input)", ("TEN-07",), _RC),
)

# the signed-AuthnRequest mutants: the SP publishes AuthnRequestsSigned="true" with any of them on
SIGNING_AREQ = ("areq_unsigned", "areq_wrong_key", "areq_sha1_signature", "areq_embedded_signature_redirect")

MUTANTS: dict[str, Mutant] = {m.name: m for m in _TABLE}


class UnknownMutant(ValueError):
    pass


class _HasMutants(Protocol):
    mutants: frozenset[str]


def active(cfg: _HasMutants, name: str) -> bool:
    """Is mutant `name` switched on in `cfg`? (A typo in `name` is a bug: raise.)"""
    if name not in MUTANTS:
        raise KeyError(f"no mutant named {name!r}")
    return name in cfg.mutants or any(name in MUTANTS[n].implies for n in cfg.mutants if n in MUTANTS)


def parse_mutants(names: Iterable[str]) -> frozenset[str]:
    """Validate names (comma-separated items allowed); one-line error naming the unknown one."""
    out: set[str] = set()
    for item in names:
        for n in str(item).split(","):
            n = n.strip()
            if not n:
                continue
            if n not in MUTANTS:
                raise UnknownMutant(f"unknown mutant {n!r} (see `samlconf sp mutants`)")
            out.add(n)
    return frozenset(out)


def from_env(environ: dict[str, str] | None = None) -> frozenset[str]:
    env = os.environ if environ is None else environ
    return parse_mutants([env.get("SAMLCONF_MUTANT", "")])
