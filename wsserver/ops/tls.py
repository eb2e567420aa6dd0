"""HTTPS for `python app.py` (README, "Running it for real": TLS): which certificate and key granian
serves, checked before it starts, or a self-signed set made in the instance folder.

- WSSERVER_TLS_CERT + WSSERVER_TLS_KEY: PEM files the operator made (a certificate, or a chain with
  the server's certificate first, and its unencrypted private key); both or neither, readable, and
  the key must belong to the certificate.
- WSSERVER_TLS=self-signed: `<instance>/tls/` holds a certificate authority's certificate (`ca.pem`,
  what clients trust), the server's certificate for localhost, 127.0.0.1 and ::1 signed by it
  (`cert.pem`) and the server's key (`key.pem`, mode 0600). Made on first start and kept; made again
  when one is missing or unreadable, or the certificate has less than RENEW_BEFORE left. The
  authority's private key is never written anywhere: nothing else can be signed with it.

Every problem is a TLSError: one line (serve.py stops start-up with it, before the port is bound).
Crypto is the `cryptography` package's (keys, certificates, signatures); nothing here does any by hand.
"""
import datetime
import ipaddress
import os


class TLSError(Exception):
    """The TLS settings cannot be served; the message is one line for the operator."""

SELF_SIGNED = "self-signed"
FOLDER = "tls"
CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "cert.pem", "key.pem"
NAMES = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")
VALID_FOR = datetime.timedelta(days=825)
RENEW_BEFORE = datetime.timedelta(days=30)


class TLSFiles:
    """What granian serves (`cert`, `key`) and, for a self-signed set, the file clients trust (`ca`)."""

    def __init__(self, cert, key, ca=None, made=False):
        self.cert, self.key, self.ca, self.made = cert, key, ca, made


def tls_files(config):
    """The TLSFiles these settings ask for, or None (plain HTTP); TLSError when they cannot be served."""
    cert, key, mode = config["TLS_CERT"], config["TLS_KEY"], config["TLS"]
    if mode == SELF_SIGNED:
        if cert or key:
            raise TLSError("WSSERVER_TLS=self-signed makes its own certificate: leave WSSERVER_TLS_CERT and "
                             "WSSERVER_TLS_KEY unset, or WSSERVER_TLS unset to serve those files")
        return self_signed(os.path.join(config["INSTANCE_PATH"], FOLDER))
    if not cert and not key:
        return None
    if not (cert and key):
        given, missing = ("WSSERVER_TLS_CERT", "WSSERVER_TLS_KEY") if cert else ("WSSERVER_TLS_KEY", "WSSERVER_TLS_CERT")
        raise TLSError(f"{given} is set but {missing} is not: HTTPS needs both PEM files")
    check_pair(_read(cert, "WSSERVER_TLS_CERT"), _read(key, "WSSERVER_TLS_KEY"), cert, key)
    return TLSFiles(os.path.abspath(cert), os.path.abspath(key))


def _read(path, setting):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise TLSError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def check_pair(cert_pem, key_pem, cert_path, key_path):
    """TLSError unless `cert_pem` holds a PEM certificate and `key_pem` an unencrypted PEM key of it."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError:
        raise TLSError(f"WSSERVER_TLS_CERT: {cert_path} holds no PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TLSError(f"WSSERVER_TLS_KEY: {key_path} is encrypted; give the key without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TLSError(f"WSSERVER_TLS_KEY: {key_path} holds no PEM private key") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            certificate.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise TLSError(f"WSSERVER_TLS_KEY: {key_path} is not the key of the certificate in {cert_path}")
    return certificate


def self_signed(folder):
    """The self-signed set in `folder`, made (again) when missing, unreadable or close to expiring."""
    files = TLSFiles(*(os.path.join(folder, name) for name in (CERT_FILE, KEY_FILE, CA_FILE)))
    if _usable(files):
        return files
    try:
        _make(files, folder)
    except OSError as exc:
        raise TLSError(f"cannot write the self-signed certificate in {folder}: {exc.strerror or exc}") from None
    files.made = True
    return files


def _usable(files):
    from cryptography import x509

    try:
        with open(files.cert, "rb") as cert, open(files.key, "rb") as key, open(files.ca, "rb") as ca:
            check_pair(cert.read(), key.read(), files.cert, files.key)
            x509.load_pem_x509_certificate(ca.read())
            cert.seek(0)
            certificate = x509.load_pem_x509_certificate(cert.read())
    except (OSError, ValueError, TLSError):
        return False
    return certificate.not_valid_after_utc - _now() > RENEW_BEFORE


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _make(files, folder):
    """A throw-away authority signs the server's certificate; its key lives only in this function."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = _now()
    start, end = now - datetime.timedelta(minutes=5), now + VALID_FOR
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsserver self-signed authority"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wsserver")])
    ca_identifier = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_identifier, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    alternative_names = [x509.DNSName(name) for name in NAMES]
    alternative_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES]
    server = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAMES[0])]))
        .issuer_name(ca_name).public_key(server_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_identifier), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    os.makedirs(folder, mode=0o700, exist_ok=True)
    _write(files.key, server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
           0o600)
    _write(files.cert, server.public_bytes(pem), 0o644)
    _write(files.ca, ca.public_bytes(pem), 0o644)


def _write(path, data, mode):
    """Write `data` to a new file beside `path` with `mode` from its creation, then put it in place."""
    temporary = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # whatever the umask
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
