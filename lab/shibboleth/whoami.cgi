#!/usr/bin/python3
"""The echo page behind Shibboleth (lazy session): who the SP says is signed in, as JSON; 401 if nobody.
mod_shib exports the session's attributes as CGI environment variables (ShibUseEnvironment); Apache's
CGI environment spells '-' as '_' (Shib-Session-ID arrives as Shib_Session_ID). mod_shib joins the values
of a multi-valued attribute with ';' and escapes a ';' inside a value as '\;' (the SP's documented
attribute export); the value is shown with that escape undone, so a value reads as the IdP sent it."""
import json
import os


def env(name):
    v = os.environ.get(name) or os.environ.get(name.replace("-", "_"))
    return v.replace("\\;", ";") if v else v


session = env("Shib-Session-ID")
if not session:
    print("Status: 401 Unauthorized\nContent-Type: application/json\n\n" + json.dumps({"user": None}))
else:
    names = ("REMOTE_USER", "mail", "givenName", "sn", "nameid", "Shib-Identity-Provider",
             "Shib-Authentication-Instant", "Shib-AuthnContext-Class", "Shib-Session-Index")
    data = {k: env(k) for k in names}
    data.update({"user": env("REMOTE_USER"), "email": env("mail"), "name_id": env("nameid"), "session": session})
    print("Content-Type: application/json\n\n" + json.dumps(data))
