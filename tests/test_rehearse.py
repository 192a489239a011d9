"""`samlconf rehearse`: an IdP admin's attribute configuration checked against the SP contract."""
from __future__ import annotations

import json

from harness.cli import main
from harness.profiles import load_profile
from harness.rehearse import check_user

USERS = """users:
  - name_id: ada@example.com
    attributes: {FirstName: Ada, LastName: Lovelace, Email: ada@example.com, redisAccountMapping: "12345=owner,54321=Manager"}
  - name_id: bob@example.com
    attributes: {firstName: Bob, LastName: B, Email: bob@example.com, redisAccountMapping: ["12345=viewer", "54321=billing_admin"]}
  - name_id: cy@example.com
    attributes: {FirstName: Cy, LastName: C, Email: cy@example.com, redisAccountMapping: ["12345=member", "54321=viewer"]}
"""


def test_static_findings_name_the_mistake():
    p = load_profile("redis_cloud")
    r = check_user(p, {"FirstName": ["A"], "LastName": ["B"], "email": ["a@example.com"],
                       "redisAccountMapping": ["12345=owner,54321=Manager,oops"]}, "a")
    text = " | ".join(f.message for f in r.findings)
    assert "'Email' is missing ('email' is sent" in text
    assert "role 'Manager' for account 54321" in text and "did you mean 'manager'" in text
    assert "'oops' is not ACCOUNT=role" in text
    assert r.expected["accounts"] == {"12345": "owner"}
    rf = check_user(load_profile("redflag"), {"username": ["g"], "firstname": ["G"], "lastname": ["H"],
                    "role": ["Super_Administrator"], "email": ["g@example.com"], "tenantid": ["a, b"]}, "g")
    assert rf.ok and rf.expected == {"role": "Super Administrator", "tenants": ["a", "b"]}
    bad = check_user(load_profile("redflag"), {"username": ["g"], "firstname": ["G"], "lastname": ["H"],
                     "role": ["Owner"], "email": ["g@example.com"], "tenantid": ["a"]}, "g")
    assert not bad.ok and "'Owner' is not one of" in bad.findings[0].message


def test_live_rehearsal_against_the_reference_sp(tmp_path, capsys):
    f = tmp_path / "users.yaml"
    f.write_text(USERS)
    rc = main(["rehearse", str(f), "--profile", "redis_cloud", "--live", "--json"])
    out = {r["user"]: r for r in json.loads(capsys.readouterr().out)}
    assert rc == 1
    assert out["ada@example.com"]["signed_in"] is True and not out["ada@example.com"]["ok"]
    assert out["bob@example.com"]["signed_in"] is False, "FirstName misspelt: the SP refuses"
    cy = out["cy@example.com"]
    assert cy["ok"] and cy["sp_view"]["accounts"] == {"12345": "member", "54321": "viewer"}


def test_bad_users_file_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "u.yaml"
    f.write_text("users: [")
    assert main(["rehearse", str(f), "--profile", "redflag"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


ENTRA_USERS = """users:
  - name_id: adele@example.com
    attributes:
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": adele@example.com
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": Adele
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": Vance
      "http://schemas.microsoft.com/identity/claims/objectidentifier": 0f4c2a
      redisAccountMapping: "12345=owner"
"""


def test_entra_preset_names_the_claim_uris_to_rename(tmp_path, capsys):
    f = tmp_path / "entra.yaml"
    f.write_text(ENTRA_USERS)
    assert main(["rehearse", str(f), "--profile", "redis_cloud", "--preset", "entra"]) == 1
    out = capsys.readouterr().out
    assert "send 'Email', not 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'" in out
    assert "send 'FirstName', not 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'" in out
    assert "send 'LastName', not 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'" in out
    assert "Attributes & Claims" in out
    assert "'Email' is missing" not in out and "objectidentifier" not in out  # Entra's extras are not noise
    # without the preset the same file reads as plain gaps
    assert main(["rehearse", str(f), "--profile", "redis_cloud"]) == 1
    assert "required attribute 'Email' is missing" in capsys.readouterr().out


def test_redflag_role_claim_from_entra_and_presets_without_a_users_file(capsys):
    p = load_profile("redflag")
    from harness.rehearse import load_preset

    r = check_user(p, {"username": ["g"], "firstname": ["G"], "lastname": ["H"], "email": ["g@example.com"],
                       "tenantid": ["a"], "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": ["Editor"]},
                   "g", load_preset("entra"))
    assert any("send 'role', not 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'" in f.message
               for f in r.findings)
    assert main(["rehearse", "--profile", "redis_cloud", "--preset", "okta"]) == 1
    out = capsys.readouterr().out
    assert "send 'Email', not 'email'" in out and "send 'FirstName', not 'firstName'" in out
    assert main(["rehearse", "--profile", "redis_cloud", "--preset", "google"]) == 1
    out = capsys.readouterr().out
    assert "Google Workspace sends no attributes until they are mapped: map 'Primary email' to an app " \
           "attribute named 'Email'" in out
    assert main(["rehearse", "--profile", "redis_cloud"]) == 2
    assert "give a users file" in capsys.readouterr().err
