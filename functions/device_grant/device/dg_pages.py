"""device_grant's HTML pages: the user's device page and the outcome pages (no scripts)."""

from __future__ import annotations

import html

_STYLE = ("body{font-family:sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem}"
          "input{font:1.4rem monospace;letter-spacing:.2rem;width:100%;margin:.5rem 0}"
          "button{font-size:1.1rem;margin:.5rem .5rem 0 0;padding:.4rem 1.2rem}"
          ".error{color:#b00}.ok{color:#070}")
# Pages carry no script and load nothing: default-src 'none' (form-action limits the POST).
CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
TITLE = "Device authorization"


def _doc(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def device_page(action_url: str, user_code: str = "", error: str = "") -> str:
    """The form: the user code (prefilled when the user arrived with it), Authorize, Deny."""
    err = f"<p class='error' id='error'>{html.escape(error)}</p>" if error else ""
    return _doc(TITLE, (
        f"<h1>{TITLE}</h1>"
        "<p>Enter the code shown on your device, check that it matches, then authorise or "
        "deny its access. You will be asked to sign in.</p>"
        f"{err}<form method='post' action='{html.escape(action_url)}'>"
        "<label for='user_code'>Code</label>"
        f"<input id='user_code' name='user_code' value='{html.escape(user_code)}' "
        "autocomplete='off' autocapitalize='characters' spellcheck='false' required>"
        "<button id='authorize' type='submit' name='action' value='authorize'>Authorize"
        "</button><button id='deny' type='submit' name='action' value='deny'>Deny</button>"
        "</form>"))


def outcome_page(title: str, message: str, ok: bool) -> str:
    css = "ok" if ok else "error"
    return _doc(title, f"<h1 id='outcome'>{html.escape(title)}</h1>"
                       f"<p class='{css}' id='message'>{html.escape(message)}</p>")
