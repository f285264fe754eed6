"""Test certificates made with openssl: a CA, a server certificate for 127.0.0.1/localhost, and
a client certificate whose PEM key is encrypted (so ``ssl_key_password`` is exercised)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

KEYSTORE_PASSWORD = "changeit"
CLIENT_KEY_PASSWORD = "client-key-secret"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    server_p12: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _signed(name: str, subject: str, extensions: str, cwd: Path) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
             f"{name}.csr", "-subj", subject, cwd=cwd)
    (cwd / f"{name}.ext").write_text(extensions + "\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
             cwd=cwd)


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=stream-align-test-ca", cwd=directory)
    _signed("server", "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth", directory)
    _openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile",
             "ca.pem", "-out", "server.p12", "-passout", f"pass:{KEYSTORE_PASSWORD}",
             cwd=directory)
    _signed("client", "/CN=stream-align", "extendedKeyUsage=clientAuth", directory)
    _openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "client.key", "-out",
             "client-encrypted.key", "-passout", f"pass:{CLIENT_KEY_PASSWORD}", cwd=directory)
    return Certificates(ca=directory / "ca.pem", server_cert=directory / "server.pem",
                        server_key=directory / "server.key", server_p12=directory / "server.p12",
                        client_cert=directory / "client.pem",
                        client_key=directory / "client-encrypted.key")
