"""The document_watermark scenario for `localcloud demo`, and what it (and the tests) need: an
identity provider of their own (an RSA key generated here, its JWKS put in the stack's SSM
parameter, tokens signed with PyJWT) and documents generated here (text, Markdown, HTML, PDF).

Scenario: put the JWKS and four documents; GET each through the API as alice -> 302 to a
presigned URL of a PDF in the temporary bucket whose every page carries "alice@example.com"
and the original's text; the access log holds one "served" entry per GET. Then the refusals:
no token, an expired one, a forged one (same key id, other key), another audience -> 401; a
token without the documents:read scope -> 403; a missing document -> 404; an image -> 415; a
broken PDF -> 422; a path with '..' -> 400.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from typing import Any

ISSUER = "https://idp.document-watermark.local"
AUDIENCE = "document-watermark"
KID = "demo-key-1"


class IdentityProvider:
    """An RSA signing key and its JWKS, generated in memory (nothing downloaded)."""

    def __init__(self, kid: str = KID) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(self, sub: str = "user-alice", email: str = "alice@example.com",
              scope: str = "documents:read", lifetime: int = 600, audience: str = AUDIENCE,
              issuer: str = ISSUER, **extra: Any) -> str:
        import jwt

        now = int(time.time())
        claims = {"sub": sub, "email": email, "scope": scope, "iss": issuer, "aud": audience,
                  "iat": now, "exp": now + lifetime, **extra}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def documents() -> dict[str, tuple[bytes, str, str]]:
    """key -> (body, Content-Type, a phrase the PDF must contain)."""
    from fpdf import FPDF

    pdf = FPDF()
    for n in (1, 2, 3):
        pdf.add_page()
        pdf.set_font("Helvetica", size=14)
        pdf.cell(0, 10, f"Quarterly figures, page {n}")
    return {
        "reports/notes.txt": (("Meeting notes\n\tAction: ship the release\n" * 80).encode(),
                              "text/plain", "Action: ship the release"),
        "reports/plan.md": ((b"# Launch plan\n\nThe **launch** is on *Monday*.\n\n"
                             b"| step | owner |\n|---|---|\n| build | Ana |\n"),
                            "text/markdown", "Launch plan"),
        "reports/memo.html": ((b"<html><head><style>p{color:red}</style><script>alert(1)"
                               b"</script></head><body><h1>Internal memo</h1><p>Budget "
                               b"\xe2\x80\x9capproved\xe2\x80\x9d.</p></body></html>"),
                              "text/html", 'Budget "approved"'),
        "reports/figures.pdf": (bytes(pdf.output()), "application/pdf",
                                "Quarterly figures, page 3"),
    }


def setup(ctx: Any, idp: IdentityProvider) -> None:
    """The JWKS in the stack's parameter, the documents in the bucket."""
    ctx.client("ssm").put_parameter(Name=ctx.outputs["JwksParameterName"],
                                    Value=json.dumps(idp.jwks()), Type="String", Overwrite=True)
    s3 = ctx.client("s3")
    for key, (body, ctype, _) in documents().items():
        s3.put_object(Bucket=ctx.outputs["DocumentsBucketName"], Key=key, Body=body,
                      ContentType=ctype)
    s3.put_object(Bucket=ctx.outputs["DocumentsBucketName"], Key="images/logo.png",
                  Body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, ContentType="image/png")
    s3.put_object(Bucket=ctx.outputs["DocumentsBucketName"], Key="reports/broken.pdf",
                  Body=b"%PDF-1.4\nthis is not really a PDF\n", ContentType="application/pdf")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(url: str, token: str | None) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects: (status, headers, body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=120) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def fetch_pdf(ctx: Any, key: str, token: str) -> tuple[str, list[str]]:
    """GET the document, follow the 302; (presigned URL, each page's text)."""
    from pypdf import PdfReader

    status, headers, body = get(f"{ctx.outputs['ApiUrl']}/documents/{key}", token)
    if status != 302:
        raise AssertionError(f"GET {key}: {status} {body[:300]!r}")
    location = headers["Location"]
    with urllib.request.urlopen(location, timeout=60) as resp:
        pdf = resp.read()
    if not pdf.startswith(b"%PDF-"):
        raise AssertionError(f"{key}: the presigned URL did not give a PDF")
    return location, [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def log_entries(ctx: Any, user_id: str) -> list[dict[str, Any]]:
    items = ctx.client("dynamodb").query(
        TableName=ctx.outputs["AccessLogTableName"],
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}})["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def refusals(ctx: Any, idp: IdentityProvider) -> dict[str, tuple[str, str | None, int, str]]:
    """case -> (key, token, expected status, phrase of the message)."""
    forger = IdentityProvider(kid=idp.kid)  # same key id, another key
    return {
        "no token": ("reports/notes.txt", None, 401, "missing Authorization"),
        "expired": ("reports/notes.txt", idp.token(lifetime=-120), 401, "token expired"),
        "forged": ("reports/notes.txt", forger.token(), 401, "signature does not verify"),
        "garbage": ("reports/notes.txt", "not.a.jwt", 401, "malformed token"),
        "other audience": ("reports/notes.txt", idp.token(audience="another-app"), 401,
                           "another audience"),
        "unknown key": ("reports/notes.txt", IdentityProvider(kid="other").token(), 401,
                        "unknown key"),
        "no scope": ("reports/notes.txt", idp.token(scope="profile"), 403,
                     "lacks the 'documents:read' scope"),
        "missing document": ("reports/nothing-here.txt", idp.token(), 404,
                             "document not found"),
        "image": ("images/logo.png", idp.token(), 415, "only text, Markdown, HTML and PDF"),
        "broken pdf": ("reports/broken.pdf", idp.token(), 422, "not a readable PDF"),
        "traversal": ("reports/../secrets.txt", idp.token(), 400, "not a document key"),
    }


def run(ctx: Any, idp: IdentityProvider | None = None) -> None:
    # The API caches the JWKS for 5 minutes: callers sharing a cloud share one key.
    idp = idp or IdentityProvider()
    setup(ctx, idp)
    ctx.step("JWKS of a generated RSA key in the SSM parameter; 6 documents uploaded")
    token = idp.token()
    for key, (_, _, phrase) in documents().items():
        location, pages = fetch_pdf(ctx, key, token)
        if not all("alice@example.com" in text for text in pages):
            raise AssertionError(f"{key}: a page without the watermark: {pages}")
        if not any(phrase in text for text in pages):
            raise AssertionError(f"{key}: {phrase!r} not in the PDF: {pages[0][:300]}")
        if ctx.outputs["TemporaryBucketName"] not in location:
            raise AssertionError(f"{key}: redirected outside the temporary bucket: {location}")
        ctx.step(f"{key}: 302 -> {len(pages)}-page PDF, watermark on every page")
    served = [e for e in log_entries(ctx, "user-alice") if e["outcome"] == "served"]
    if sorted(e["document"] for e in served) != sorted(documents()):
        raise AssertionError(f"access log: {served}")
    ctx.step(f"access log: {len(served)} entries served to user-alice with the time and "
             "watermark")
    for case, (key, tok, status, phrase) in refusals(ctx, idp).items():
        got, _, body = get(f"{ctx.outputs['ApiUrl']}/documents/{key}", tok)
        message = json.loads(body or b"{}").get("message", "")
        if got != status or phrase not in message:
            raise AssertionError(f"{case}: {got} {message!r} (expected {status} {phrase!r})")
    ctx.step("refused: no/expired/forged/garbage/other-audience/unknown-key token -> 401, "
             "no scope -> 403, missing -> 404, image -> 415, broken PDF -> 422, '..' -> 400")
    rules = ctx.client("s3").get_bucket_lifecycle_configuration(
        Bucket=ctx.outputs["TemporaryBucketName"])["Rules"]
    if [(r["Filter"].get("Prefix"), r["Expiration"]["Days"]) for r in rules] != [
            ("rendered/", 1)]:
        raise AssertionError(f"temporary bucket lifecycle: {rules}")
    ctx.step("temporary copies (rendered/) expire after 1 day")
