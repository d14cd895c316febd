"""document_watermark's rendering, free of AWS: text, Markdown, HTML and PDF input to PDF
(fpdf2 draws, pypdf merges), and a per-user watermark stamped on every page.

fpdf2's built-in fonts cover Latin-1 only (Lambda has no system fonts to embed): other
characters are folded to their closest Latin-1 form or '?'.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

import markdown
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

# Extension -> kind; a Content-Type decides when the key has no known extension.
KINDS_BY_EXTENSION = {".txt": "text", ".text": "text", ".log": "text", ".csv": "text",
                      ".md": "markdown", ".markdown": "markdown", ".html": "html",
                      ".htm": "html", ".pdf": "pdf"}
KINDS_BY_TYPE = {"text/plain": "text", "text/csv": "text", "text/markdown": "markdown",
                 "text/html": "html", "application/pdf": "pdf"}
_PUNCTUATION = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                              "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u2022": "*",
                              "\u00a0": " ", "\u2122": "(TM)", "\u20ac": "EUR",
                              # letters NFKD does not split into a base letter and an accent
                              "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d",
                              "\u0152": "OE", "\u0153": "oe", "\u0131": "i"})
MAX_INPUT_BYTES = 20 * 1024 * 1024


class RenderError(Exception):
    """The document cannot be rendered; `status` and `code` are what the GET answers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class UnsupportedDocument(RenderError):
    def __init__(self, message: str) -> None:
        super().__init__(415, "UnsupportedMediaType", message)


class UnreadableDocument(RenderError):
    def __init__(self, message: str) -> None:
        super().__init__(422, "UnprocessableDocument", message)


@dataclass(frozen=True)
class Watermark:
    """What goes on every page: a diagonal `text` and a footer line."""

    text: str
    footer: str = ""


def kind_of(key: str, content_type: str | None) -> str:
    """text | markdown | html | pdf, from the key's extension, else the Content-Type."""
    lower = key.lower()
    for ext, kind in KINDS_BY_EXTENSION.items():
        if lower.endswith(ext):
            return kind
    base = (content_type or "").split(";")[0].strip().lower()
    if base in KINDS_BY_TYPE:
        return KINDS_BY_TYPE[base]
    raise UnsupportedDocument(f"{key}: only text, Markdown, HTML and PDF documents are "
                              f"converted (Content-Type {base or 'unknown'})")


def latin1(text: str) -> str:
    """Text the core PDF fonts can draw."""
    text = unicodedata.normalize("NFC", text.translate(_PUNCTUATION))
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            folded = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode(
                "latin-1")
            out.append(folded or "?")
    return "".join(out)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _new_pdf(title: str) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_title(latin1(title))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    return pdf


def text_to_pdf(text: str, title: str) -> bytes:
    pdf = _new_pdf(title)
    pdf.set_font("Courier", size=10)
    # Tabs and very long unbroken lines are what plain text files have; wrap both.
    for line in latin1(text.expandtabs(4)).splitlines() or [""]:
        pdf.multi_cell(0, 5, line if line else " ", new_x="LMARGIN", new_y="NEXT",
                       wrapmode="CHAR")
    return bytes(pdf.output())


_DROP = re.compile(r"<(script|style|head|iframe|object)\b.*?</\1\s*>", re.I | re.S)


def html_to_pdf(html: str, title: str) -> bytes:
    body = _DROP.sub("", html)  # code and styles are not content to print
    match = re.search(r"<body\b[^>]*>(.*)</body\s*>", body, re.I | re.S)
    body = match.group(1) if match else body
    pdf = _new_pdf(title)
    pdf.set_font("Helvetica", size=11)
    try:
        pdf.write_html(latin1(body))
    except Exception as err:  # noqa: BLE001 - fpdf2 raises many kinds on odd markup
        raise UnreadableDocument(f"HTML could not be laid out: {err}") from None
    return bytes(pdf.output())


def markdown_to_pdf(text: str, title: str) -> bytes:
    return html_to_pdf(markdown.markdown(text, extensions=["tables", "fenced_code"]), title)


def to_pdf(data: bytes, kind: str, title: str) -> bytes:
    """The document as PDF (a PDF is checked and returned as it is)."""
    if len(data) > MAX_INPUT_BYTES:
        raise UnreadableDocument(f"{len(data)} bytes is over the {MAX_INPUT_BYTES} byte limit")
    if kind == "pdf":
        return data
    if kind == "text":
        return text_to_pdf(_decode(data), title)
    if kind == "markdown":
        return markdown_to_pdf(_decode(data), title)
    if kind == "html":
        return html_to_pdf(_decode(data), title)
    raise UnsupportedDocument(f"unknown kind {kind}")


def _overlay(width: float, height: float, mark: Watermark) -> PdfReader:
    pdf = FPDF(unit="pt", format=(width, height))
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    text = latin1(mark.text)
    size = max(18.0, min(60.0, 1.1 * width / max(len(text), 8)))
    pdf.set_font("Helvetica", "B", size)
    pdf.set_text_color(200, 30, 30)
    with pdf.local_context(fill_opacity=0.22, stroke_opacity=0.22), \
            pdf.rotation(angle=35, x=width / 2, y=height / 2):
        pdf.text(width / 2 - pdf.get_string_width(text) / 2, height / 2, text)
    if mark.footer:
        pdf.set_font("Helvetica", "", 7)
        pdf.set_text_color(90, 90, 90)
        pdf.text(24, height - 14, latin1(mark.footer))
    return PdfReader(io.BytesIO(bytes(pdf.output())))


def stamp(pdf_bytes: bytes, mark: Watermark) -> bytes:
    """Every page with the watermark on top; the text stays extractable (searchable)."""
    try:
        reader = PdfReader(io.BytesIO(pdf_bytes))
        if reader.is_encrypted:
            raise UnreadableDocument("the PDF is encrypted: it cannot be watermarked")
        pages = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as err:
        raise UnreadableDocument(f"not a readable PDF: {err}") from None
    if not pages:
        raise UnreadableDocument("the PDF has no pages")
    writer = PdfWriter(clone_from=reader)  # pypdf 7 merges only into a writer's pages
    overlays: dict[tuple[float, float], PdfReader] = {}
    for page in writer.pages:
        box = page.mediabox
        size = (round(float(box.width), 2), round(float(box.height), 2))
        if size not in overlays:
            overlays[size] = _overlay(*size, mark)
        overlay = overlays[size].pages[0]
        if float(box.left) or float(box.bottom):
            page.merge_translated_page(overlay, float(box.left), float(box.bottom))
        else:
            page.merge_page(overlay)
    writer.add_metadata({"/Producer": "document_watermark", "/Subject": latin1(mark.text)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render(data: bytes, key: str, content_type: str | None, mark: Watermark) -> bytes:
    """The document converted to PDF and watermarked."""
    kind = kind_of(key, content_type)
    title = key.rsplit("/", 1)[-1]
    return stamp(to_pdf(data, kind, title), mark)
