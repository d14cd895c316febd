"""dw_render: conversion to PDF and the watermark on every page; the Object Lambda
function's transform on real getObjectContext events (the download stubbed)."""

from __future__ import annotations

import io
import urllib.error

import dw_render as dr
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

MARK = dr.Watermark("alice@example.com", "alice - 2024-05-01 12:00 UTC - req-1")


def _pages(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def test_each_kind_is_converted_and_stamped(dw_demo) -> None:
    for key, (body, ctype, phrase) in dw_demo.documents().items():
        pages = _pages(dr.render(body, key, ctype, MARK))
        assert all("alice@example.com" in p and "req-1" in p for p in pages), key
        assert any(phrase in p for p in pages), key
    html = dw_demo.documents()["reports/memo.html"][0]
    assert "alert" not in "".join(_pages(dr.render(html, "m.html", None, MARK)))


def test_pages_of_other_sizes_get_a_fitting_overlay() -> None:
    pdf = FPDF(unit="pt", format=(300, 200))
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(20, 20, "small page")
    pdf.add_page(format=(842, 595))  # A4 landscape
    pdf.text(20, 20, "wide page")
    out = PdfReader(io.BytesIO(dr.stamp(bytes(pdf.output()), MARK)))
    assert [(float(p.mediabox.width), float(p.mediabox.height)) for p in out.pages] == [
        (300, 200), (842, 595)]
    assert all("alice@example.com" in p.extract_text() for p in out.pages)


def test_kind_detection_and_refusals() -> None:
    assert dr.kind_of("a/B.MD", None) == "markdown"
    assert dr.kind_of("noext", "text/html; charset=utf-8") == "html"
    with pytest.raises(dr.UnsupportedDocument, match="image/png"):
        dr.kind_of("logo", "image/png")
    with pytest.raises(dr.UnreadableDocument, match="not a readable PDF"):
        dr.render(b"%PDF-1.4 garbage", "x.pdf", None, MARK)
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    locked = io.BytesIO()
    writer.write(locked)
    with pytest.raises(dr.UnreadableDocument, match="encrypted"):
        dr.render(locked.getvalue(), "x.pdf", None, MARK)


def test_text_outside_latin1_is_folded() -> None:
    assert dr.latin1("Zoë “quoted” – Łódź 東") == 'Zoë "quoted" - Lódz ?'
    pages = _pages(dr.render("Łódź — naïve\n".encode(), "n.txt", None,
                             dr.Watermark("Łukasz")))
    assert "Lódz - naïve" in pages[0] and "Lukasz" in pages[0]


# --- the Object Lambda function ------------------------------------------------------------

@pytest.fixture(scope="module")
def wm_app(load_module):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "document_watermark")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/document_watermark/watermark/app.py",
                           "document_watermark_watermark_app")


def _event(key: str, headers: dict[str, str]) -> dict:
    # The shape S3 sends (docs: "Event context format and usage").
    return {"xAmzRequestId": "req", "protocolVersion": "1.00",
            "getObjectContext": {"inputS3Url": f"https://bucket.s3.amazonaws.com/{key}?sig=1",
                                 "outputRoute": "io-use1-001", "outputToken": "tok"},
            "configuration": {"accessPointArn": "arn:aws:s3-object-lambda:us-east-1:1:"
                                                "accesspoint/olap",
                              "supportingAccessPointArn": "arn:aws:s3:us-east-1:1:"
                                                          "accesspoint/ap", "payload": ""},
            "userRequest": {"url": f"https://olap-1.s3-object-lambda.us-east-1.amazonaws.com/"
                                   f"{key}", "headers": {"Host": "x", **headers}},
            "userIdentity": {"type": "AssumedRole", "principalId": "p"}}


def test_transform_answers_every_case(wm_app) -> None:
    ok = wm_app.transform(_event("docs/a%20b.txt", {"X-Watermark-Text": "carol%40x.org"}),
                          fetch=lambda url: (b"hello there", "text/plain"))
    assert ok.status_code == 200 and ok.content_type == "application/pdf"
    assert ok.metadata["source-key"] == "docs/a b.txt"
    assert "carol@x.org" in _pages(ok.body)[0] and "hello there" in _pages(ok.body)[0]

    def missing(url):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    gone = wm_app.transform(_event("x.txt", {"X-Watermark-Text": "c"}), fetch=missing)
    assert (gone.status_code, gone.error_code) == (404, "NoSuchKey")
    unmarked = wm_app.transform(_event("x.txt", {}), fetch=lambda u: (b"x", None))
    assert (unmarked.status_code, unmarked.error_code) == (403, "WatermarkRequired")
    image = wm_app.transform(_event("logo", {"X-Watermark-Text": "c"}),
                             fetch=lambda u: (b"\x89PNG", "image/png"))
    assert (image.status_code, image.error_code) == (415, "UnsupportedMediaType")
    with pytest.raises(wm_app.BadObjectLambdaEvent):
        wm_app.transform({"userRequest": {}})
