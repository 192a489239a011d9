"""Make a private Shibboleth SP 3 configuration from Debian's defaults (/etc/shibboleth) with only the
steps its documentation asks of every deployment: the SP's entityID, the one IdP to use (SSO
entityID, a local MetadataProvider), the attribute-map entries for what that IdP sends, and mail as a
REMOTE_USER candidate. Everything else (handlerSSL, cookieProps, clockSkew, security policy,
session lifetimes, replay cache) stays as Debian ships it.

    python configure.py SRC_DIR OUT_DIR SP_ENTITY_ID IDP_ENTITY_ID IDP_METADATA_FILE
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from lxml import etree

SP = "urn:mace:shibboleth:3.0:native:sp:config"
AM = "urn:mace:shibboleth:2.0:attribute-map"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
EMAIL_NAMEID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def main(src: Path, out: Path, sp_entity: str, idp_entity: str, idp_metadata: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, out / f.name)
    # shibboleth2.xml
    tree = etree.parse(str(src / "shibboleth2.xml"))
    app = tree.find(f"{{{SP}}}ApplicationDefaults")
    app.set("entityID", sp_entity)
    app.set("REMOTE_USER", app.get("REMOTE_USER") + " mail")
    sso = app.find(f"{{{SP}}}Sessions/{{{SP}}}SSO")
    sso.set("entityID", idp_entity)
    for attr in ("discoveryProtocol", "discoveryURL"):
        sso.attrib.pop(attr, None)
    md = etree.Element(f"{{{SP}}}MetadataProvider", type="XML", validate="true", path=idp_metadata)
    app.find(f"{{{SP}}}AttributeExtractor").addprevious(md)
    tree.write(str(out / "shibboleth2.xml"), xml_declaration=True, encoding="UTF-8")
    # attribute-map.xml: the IdP's attributes (Basic name format) and its emailAddress NameID
    amap = etree.parse(str(src / "attribute-map.xml"))
    root = amap.getroot()
    for name, ident in (("Email", "mail"), ("FirstName", "givenName"), ("LastName", "sn")):
        root.append(etree.Element(f"{{{AM}}}Attribute", name=name, nameFormat=BASIC, id=ident))
    nid = etree.SubElement(root, f"{{{AM}}}Attribute", name=EMAIL_NAMEID, id="nameid")
    etree.SubElement(nid, f"{{{AM}}}AttributeDecoder", {f"{{{XSI}}}type": "NameIDAttributeDecoder",
                                                         "formatter": "$Name"})
    amap.write(str(out / "attribute-map.xml"), xml_declaration=True, encoding="UTF-8")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:])
