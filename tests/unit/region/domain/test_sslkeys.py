"""PEM certificate ("SSL key") validation, against certificates made by the real openssl."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest

from region.domain.sslkeys import MAX_CERTIFICATES, InvalidSSLKey, parse_ssl_key


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=120)


def pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def der_of(text: str) -> bytes:
    lines = text.strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PEM texts made by openssl: RSA and EC certificates, their keys, a CSR."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("sslkeys")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=rsa.example.com", "-keyout", str(d / "rsa.key"),
            "-out", str(d / "rsa.pem"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=ec.example.com", "-keyout", str(d / "ec.key"),
            "-out", str(d / "ec.pem"))
    openssl("req", "-new", "-key", str(d / "ec.key"), "-subj", "/CN=csr.example.com",
            "-out", str(d / "ec.csr"))
    return {path.name: path.read_text() for path in d.iterdir()}


def test_rsa_certificate_is_accepted(certs: dict[str, str]) -> None:
    """A self-signed RSA certificate from openssl is one valid certificate."""
    key = parse_ssl_key(certs["rsa.pem"])
    assert key.certificates == (der_of(certs["rsa.pem"]),)
    assert key.text == certs["rsa.pem"].strip()


def test_ec_certificate_is_accepted(certs: dict[str, str]) -> None:
    """A P-256 EC certificate is accepted too."""
    assert len(parse_ssl_key(certs["ec.pem"]).certificates) == 1


def test_chain_is_accepted(certs: dict[str, str]) -> None:
    """Several certificate blocks (a chain) make one SSL key."""
    chain = certs["rsa.pem"] + "\n" + certs["ec.pem"]
    assert len(parse_ssl_key(chain).certificates) == 2


def test_crlf_line_ends_are_normalised(certs: dict[str, str]) -> None:
    """A certificate pasted with Windows line ends is stored with LF ones."""
    key = parse_ssl_key(certs["rsa.pem"].replace("\n", "\r\n"))
    assert "\r" not in key.text
    assert key.text == certs["rsa.pem"].strip()


def test_private_key_is_refused(certs: dict[str, str]) -> None:
    """A private key, alone or next to its certificate, is refused as such."""
    with pytest.raises(InvalidSSLKey, match="private key"):
        parse_ssl_key(certs["rsa.key"])
    with pytest.raises(InvalidSSLKey, match="private key"):
        parse_ssl_key(certs["rsa.pem"] + certs["rsa.key"])


def test_certificate_request_is_refused(certs: dict[str, str]) -> None:
    """A CSR is a PEM block, but not a certificate."""
    with pytest.raises(InvalidSSLKey, match="not a certificate"):
        parse_ssl_key(certs["ec.csr"])


def test_csr_der_labelled_as_certificate_is_refused(certs: dict[str, str]) -> None:
    """The DER itself must be a Certificate, whatever the label says."""
    with pytest.raises(InvalidSSLKey, match=r"not a valid X\.509 certificate"):
        parse_ssl_key(pem("CERTIFICATE", der_of(certs["ec.csr"])))


def test_truncated_certificate_is_refused(certs: dict[str, str]) -> None:
    """A certificate missing its last bytes does not parse."""
    with pytest.raises(InvalidSSLKey, match=r"not a valid X\.509 certificate"):
        parse_ssl_key(pem("CERTIFICATE", der_of(certs["rsa.pem"])[:-20]))


def test_trailing_bytes_after_certificate_are_refused(certs: dict[str, str]) -> None:
    """Bytes after the certificate's DER are refused."""
    with pytest.raises(InvalidSSLKey, match="unexpected bytes"):
        parse_ssl_key(pem("CERTIFICATE", der_of(certs["rsa.pem"]) + b"\x00\x00"))


def test_random_bytes_are_refused() -> None:
    """Base64 of something that is not DER at all is refused."""
    with pytest.raises(InvalidSSLKey, match=r"not a valid X\.509 certificate"):
        parse_ssl_key(pem("CERTIFICATE", b"hello, this is not a certificate"))


def test_text_outside_blocks_is_refused(certs: dict[str, str]) -> None:
    """Nothing but whitespace may surround the certificate blocks."""
    with pytest.raises(InvalidSSLKey, match="outside"):
        parse_ssl_key(certs["rsa.pem"] + "subject=CN = rsa.example.com\n")


def test_plain_text_is_refused() -> None:
    """Text with no PEM block says what was expected."""
    with pytest.raises(InvalidSSLKey, match="no PEM certificate"):
        parse_ssl_key("my certificate")


def test_unterminated_block_is_refused(certs: dict[str, str]) -> None:
    """A block without its END line is refused."""
    text = certs["rsa.pem"].strip().rsplit("\n", 1)[0]
    with pytest.raises(InvalidSSLKey, match="END"):
        parse_ssl_key(text)


def test_mismatched_end_label_is_refused(certs: dict[str, str]) -> None:
    """BEGIN CERTIFICATE must end with END CERTIFICATE."""
    text = certs["rsa.pem"].replace("END CERTIFICATE", "END X509 CRL")
    with pytest.raises(InvalidSSLKey, match="different label"):
        parse_ssl_key(text)


def test_pem_headers_are_refused(certs: dict[str, str]) -> None:
    """RFC 1421 headers inside the block are not base64 and are refused."""
    lines = certs["rsa.pem"].splitlines()
    text = "\n".join([lines[0], "Proc-Type: 4,ENCRYPTED", *lines[1:]])
    with pytest.raises(InvalidSSLKey, match="not base64"):
        parse_ssl_key(text)


def test_bad_base64_is_refused() -> None:
    """A block whose base64 is broken (bad padding) is refused."""
    with pytest.raises(InvalidSSLKey, match="base64"):
        parse_ssl_key("-----BEGIN CERTIFICATE-----\nMIIB=A\n-----END CERTIFICATE-----\n")


def test_empty_text_is_refused() -> None:
    """Whitespace alone is not a key."""
    with pytest.raises(InvalidSSLKey, match="empty"):
        parse_ssl_key("\n\n")


def test_too_many_certificates_are_refused(certs: dict[str, str]) -> None:
    """A key holds a bounded number of certificates."""
    with pytest.raises(InvalidSSLKey, match="at most"):
        parse_ssl_key(certs["ec.pem"] * (MAX_CERTIFICATES + 1))


def test_overlong_text_is_refused() -> None:
    """A huge paste is refused before any decoding."""
    with pytest.raises(InvalidSSLKey, match="longer than"):
        parse_ssl_key("-----BEGIN CERTIFICATE-----\n" + "A" * 40000)


def test_message_has_the_1_8_prefix() -> None:
    """The error reads 'Invalid SSL key: <reason>.' for the API's form error."""
    with pytest.raises(InvalidSSLKey) as raised:
        parse_ssl_key("nope")
    assert str(raised.value).startswith("Invalid SSL key: ")
