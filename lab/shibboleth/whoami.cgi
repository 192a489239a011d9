#!/usr/bin/python3
"""The echo page behind Shibboleth (lazy session): who the SP says is signed in, as JSON; 401 if nobody.
mod_shib exports the session's attributes as CGI environment variables (ShibUseEnvironment); Apache's
CGI environment spells '-' as '_' (Shib-Session-ID arrives as Shib_Session_ID)."""
import json
import os


def env(name):
    return os.environ.get(name) or os.environ.get(name.replace("-", "_"))


session = env("Shib-Session-ID")
if not session:
    print("Status: 401 Unauthorized\nContent-Type: application/json\n\n" + json.dumps({"user": None}))
else:
    names = ("REMOTE_USER", "mail", "givenName", "sn", "nameid", "Shib-Identity-Provider",
             "Shib-Authentication-Instant", "Shib-AuthnContext-Class", "Shib-Session-Index")
    data = {k: env(k) for k in names}
    data.update({"user": env("REMOTE_USER"), "email": env("mail"), "name_id": env("nameid"), "session": session})
    print("Content-Type: application/json\n\n" + json.dumps(data))
