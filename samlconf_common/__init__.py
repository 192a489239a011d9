"""Code both servers stand on and neither owns: keys and certificates (`keys`), a loopback HTTP
server (`serving`). The mock IdP (`mock_idp`) and the reference SP (`reference_sp`) import from
here and never from each other or from the harness: they speak SAML over HTTP only."""
